// The lifecycle activities: every step of creating, scaling and deleting a cluster, each
// idempotent (re-running it after a crash converges to the same state and creates nothing
// twice). They take and return references and plain facts only (resource keys, server
// addresses, counts): secrets are generated, encrypted and read here, inside the worker, and
// never travel through workflow history.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ScheduleClient } from '@temporalio/client';
import { randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import type { Agent } from 'node:https';
import { getCluster, getClusterServers, mergeClusterStatus, setClusterServers, type ServerRecord } from '../store/clusters.js';
import { getOperation, insertOperation, OperationInProgressError } from '../store/operations.js';
import { recordServerCount } from '../store/usage.js';
import { safetyWorkSkipReason } from '../domain/provisioning.js';
import { resourceKey as resourceKeyOf, workflowIdFor } from '../domain/resource-id.js';
import { CERTIFICATE_SCHEDULE_WORKFLOW, clusterSearchAttributes, type ClusterOperationInput } from '../contract/temporal.js';
import { deleteSchedule, upsertIntervalSchedule } from './schedules.js';
import type { SqlDatabase } from '../store/database.js';
import { CONTROL_PLANE_SCOPE, deleteSecrets, getSecret, putSecret, putSecretIfAbsent } from '../store/secrets.js';
import type { SecretBox } from '../lib/secret-box.js';
import type { MaintenanceWindow } from '../domain/maintenance-window.js';
import { AcmeCertificates, type AcmeSecretStore } from './acme.js';
import { type ClusterBlobs, serverPrefix } from './cluster-blobs.js';
import { claim, type ClusterNamesOf, type Owner } from './cluster-names.js';
import { ConsulAdmin, type HealthReport } from './consul-admin.js';
import type { DnsRecords } from './dns.js';
import type { TerraformActivities } from './terraform.js';
import { currentCertificate, dueCertificates } from './server-certificates.js';
import type { VaultPki } from './vault-pki.js';

/** A health gate that runs out of time this many times fails its operation (workflows/lifecycle.ts `gate`). */
export const GATE_TIMEOUT_ATTEMPTS = 3;

export interface LifecycleDeps {
  db: SqlDatabase;
  pki: VaultPki;
  blobs: ClusterBlobs;
  /** Each cluster's id and the names derived from it (activities/cluster-names.ts). */
  names: ClusterNamesOf;
  terraform: TerraformActivities;
  infrastructure: {
    /** Folder holding the Terraform modules; rootSubdir is the root module inside it. */
    moduleDir: string;
    rootSubdir: string;
    /** Provider and platform variables of the root module (endpoints, identities; never secrets). */
    variables: Record<string, unknown>;
  };
  dns: DnsRecords;
  /** Zone under which every cluster gets its endpoint name, e.g. "consul.example.net". */
  dnsZone: string;
  acme: { directoryUrl: string; contactEmail: string; httpsAgent?: Agent };
  /** Seals the documents the API hands out (client configuration, rotated root tokens). */
  sealer: SecretBox;
  /** Lifetime of server certificates (renewed at two thirds). */
  serverCertTtlHours: number;
  /** How long the health gate waits for a cluster before giving up (one attempt). */
  healthTimeoutMs: number;
  healthPollMs?: number;
  /** Temporal schedules (per-cluster snapshot and certificate schedules); set by the worker. */
  schedules?: { client: ScheduleClient; taskQueue: string };
}

/** What the workflows need to know about a cluster; plain, non-secret facts. */
export interface ClusterPlan {
  resourceKey: string;
  name: string;
  location: string;
  datacenter: string;
  serverCount: number;
  consulVersion: string;
  cidr: string;
  publicEndpoint: boolean;
  /** The cluster's random id, on everything made for it; names below come from it. */
  owner: Owner;
  /** Resource group of the cluster's infrastructure in the hosting subscription. */
  infraResourceGroup: string;
  /** The endpoint's DNS name. */
  fqdn: string;
  /** The cluster's Blob container and Terraform state. */
  container: string;
  terraformState: string;
  /** When disruptive work (upgrades) may happen; absent: any time. */
  maintenanceWindow?: MaintenanceWindow;
  /** Set when the cluster is a secondary datacenter of a WAN federation. */
  federation?: { primaryResourceKey: string; primaryDatacenter: string };
}

/** What a secondary's servers need to join the primary's WAN federation. */
export interface FederationJoin {
  primaryDatacenter: string;
  /** WAN gossip addresses of the primary's servers. */
  wanJoin: string[];
}

export type ServerInfo = ServerRecord;

/** Names of the secrets each cluster has; values are in the store, transit-encrypted. */
export const SECRET = {
  gossipKey: 'gossip-key',
  managementToken: 'management-token',
  agentToken: 'agent-token',
  snapshotToken: 'snapshot-token',
  /** A secondary's token for ACL replication from the primary. */
  replicationToken: 'replication-token',
  rootToken: 'root-token',
  clientConfig: 'sealed/client-config',
} as const;

/** The sealed result of a root-token rotation, read once by the API through the operation result. */
export const rootTokenResultName = (operationId: string) => `sealed/root-token-result/${operationId}`;

/** Errors a retry cannot fix. */
export const ERR = {
  clusterNotFound: 'ClusterNotFound',
  clusterNotHealthy: 'ClusterNotHealthy',
  addressesPending: 'ServerAddressesPending',
  primaryNotFound: 'PrimaryClusterNotFound',
  federationNotJoined: 'FederationNotJoined',
} as const;

export const CONSUL_HTTPS_PORT = 8501;
const AGENT_POLICY = 'node_prefix "" { policy = "write" }\nservice_prefix "" { policy = "read" }\nagent_prefix "" { policy = "read" }\n';
const SNAPSHOT_POLICY = 'acl = "write"\noperator = "read"\nkey_prefix "" { policy = "read" }\n';
/** What ACL replication in a secondary datacenter needs (Consul's documented replication policy). */
const REPLICATION_POLICY = 'acl = "write"\noperator = "write"\nservice_prefix "" {\n  policy = "read"\n  intentions = "read"\n}\n';
/** The control plane's tokens in a cluster: name (also its policy's), stored secret, rules. */
const CLUSTER_TOKENS = [
  ['hcs-agent', SECRET.agentToken, AGENT_POLICY],
  ['hcs-snapshot', SECRET.snapshotToken, SNAPSHOT_POLICY],
] as const;
/** A secondary's tokens, made in its primary. */
const SECONDARY_TOKENS = [...CLUSTER_TOKENS, ['hcs-replication', SECRET.replicationToken, REPLICATION_POLICY]] as const;

export function createLifecycleActivities(deps: LifecycleDeps) {
  const { db, pki, blobs } = deps;

  async function readSecret(scope: string, name: string): Promise<string> {
    const c = await getSecret(db, scope, name);
    if (c === undefined) throw ApplicationFailure.nonRetryable(`the cluster has no ${name}; it was never generated`, 'SecretMissing');
    return pki.decrypt(c);
  }
  const tokenSecret = async (scope: string, name: string) => (JSON.parse(await readSecret(scope, name)) as { secretId: string }).secretId;

  const caBundle = (plan: Pick<ClusterPlan, 'resourceKey'>): Promise<string> => pki.clusterCaBundle(plan.resourceKey);

  /** The primary's record and servers, for a secondary's federation steps (undefined when gone). */
  async function primaryOf(plan: ClusterPlan): Promise<{ resourceKey: string; servers: ServerInfo[]; deleting: boolean } | undefined> {
    if (!plan.federation) return undefined;
    const resourceKey = plan.federation.primaryResourceKey;
    const record = await getCluster(db, resourceKey);
    if (!record) return undefined;
    return { resourceKey, servers: await getClusterServers(db, resourceKey), deleting: record.provisioningState === 'Deleting' };
  }

  /** The primary a secondary joins, with its servers; a primary gone, going or not built yet is an error. */
  async function joinablePrimary(plan: ClusterPlan): Promise<{ resourceKey: string; servers: ServerInfo[] }> {
    const primary = await primaryOf(plan);
    if (!primary || primary.deleting)
      throw ApplicationFailure.nonRetryable(
        `the primary of ${plan.name} is ${primary ? 'being deleted' : 'not in the store'}`,
        ERR.primaryNotFound,
      );
    if (primary.servers.length === 0)
      throw ApplicationFailure.retryable('the primary has no servers recorded yet', 'PrimaryServersPending');
    return primary;
  }

  /** Where a secondary's servers join the primary's WAN pool. */
  const federationJoin = (plan: ClusterPlan, primary: { servers: ServerInfo[] }): FederationJoin => ({
    primaryDatacenter: plan.federation!.primaryDatacenter,
    wanJoin: primary.servers.map((s) => s.address),
  });

  /** Creates (or finds) the given control-plane tokens of `resourceKey` through `consul`. */
  async function ensureTokens(
    consul: ConsulAdmin,
    managementToken: string,
    resourceKey: string,
    tokens: ReadonlyArray<readonly [string, string, string]>,
  ): Promise<void> {
    for (const [name, secret, rules] of tokens) {
      const t = JSON.parse(await readSecret(resourceKey, secret)) as { accessorId: string; secretId: string };
      await consul.ensureToken(managementToken, { name, rules, accessorId: t.accessorId, secretId: t.secretId });
    }
  }

  /**
   * Polls `attempt` (heartbeating what is still wrong) until it is done, or fails with the last
   * problem once the health timeout has passed. The gates' retry policy allows several attempts
   * so that a dependency outage (Vault, the store, Blob) when an attempt starts is waited out; a
   * gate that has run out of time on its GATE_TIMEOUT_ATTEMPTS-th attempt or later is final.
   */
  async function pollUntil<T>(
    failure: (problem: string) => ApplicationFailure,
    attempt: () => Promise<{ done: T } | { problem: string }>,
  ): Promise<T> {
    const deadline = Date.now() + deps.healthTimeoutMs;
    for (;;) {
      const r = await attempt();
      if ('done' in r) return r.done;
      Context.current().heartbeat({ problem: r.problem });
      if (Date.now() > deadline) {
        const f = failure(r.problem);
        if (Context.current().info.attempt < GATE_TIMEOUT_ATTEMPTS) throw f;
        throw ApplicationFailure.create({ message: f.message, type: f.type ?? undefined, nonRetryable: true });
      }
      await Context.current().sleep(deps.healthPollMs ?? 1_000);
    }
  }

  /** A ConsulAdmin for the first server that answers (any server forwards to the leader). */
  async function admin(plan: Pick<ClusterPlan, 'resourceKey'>, servers: ServerInfo[]): Promise<{ admin: ConsulAdmin; token: string }> {
    const ca = await caBundle(plan);
    const token = await tokenSecret(plan.resourceKey, SECRET.managementToken);
    for (const s of servers) {
      const a = new ConsulAdmin({ url: `https://${s.address}:${CONSUL_HTTPS_PORT}`, caPem: ca });
      if (await a.leaderAddress(token).catch(() => '')) return { admin: a, token };
    }
    throw ApplicationFailure.retryable('no server of the cluster answers with a leader', ERR.clusterNotHealthy);
  }

  function acmeFor(scope: string): AcmeCertificates {
    const secrets: AcmeSecretStore = {
      // The account key belongs to the control plane; certificates to their cluster.
      get: async (name) => {
        const c = await getSecret(db, name.startsWith('acme/certs/') ? scope : CONTROL_PLANE_SCOPE, name);
        return c === undefined ? undefined : pki.decrypt(c);
      },
      put: async (name, value) =>
        putSecret(db, name.startsWith('acme/certs/') ? scope : CONTROL_PLANE_SCOPE, name, await pki.encrypt(value)),
    };
    return new AcmeCertificates({ ...deps.acme, dns: deps.dns, secrets });
  }

  return {
    /** The cluster's plan from its record; the record gone means the operation cannot go on. */
    async loadClusterPlan(a: { resourceKey: string }): Promise<ClusterPlan> {
      const c = await getCluster(db, a.resourceKey);
      if (!c) throw ApplicationFailure.nonRetryable(`cluster ${a.resourceKey} is not in the store`, ERR.clusterNotFound);
      // A secondary whose primary is gone can still be deleted; building it fails at the join.
      const primaryKey = c.spec.properties.primaryClusterId ? resourceKeyOf(c.spec.properties.primaryClusterId) : undefined;
      const primary = primaryKey ? await getCluster(db, primaryKey) : undefined;
      const { names, owner } = await deps.names(a.resourceKey);
      return {
        ...(primaryKey
          ? { federation: { primaryResourceKey: primaryKey, primaryDatacenter: primary?.spec.properties.datacenter ?? '' } }
          : {}),
        resourceKey: a.resourceKey,
        name: c.name.toLowerCase(),
        location: c.spec.location,
        datacenter: c.spec.properties.datacenter,
        serverCount: c.spec.properties.serverCount,
        consulVersion: c.status.currentConsulVersion ?? c.spec.properties.consulVersion,
        cidr: c.spec.properties.network.cidr,
        publicEndpoint: c.spec.properties.publicEndpoint,
        owner,
        infraResourceGroup: names.infraResourceGroup,
        fqdn: `${names.dnsLabel}.${deps.dnsZone}`,
        container: names.container,
        terraformState: names.terraformState,
        ...(c.spec.properties.maintenanceWindow ? { maintenanceWindow: c.spec.properties.maintenanceWindow } : {}),
      };
    },

    /** The servers recorded by the last successful apply (used by delete and scale-down). */
    async loadClusterServers(a: { resourceKey: string }): Promise<ServerInfo[]> {
      return getClusterServers(db, a.resourceKey);
    },

    /**
     * Gossip key and ACL tokens: generated once per cluster, stored transit-encrypted. A
     * secondary takes the gossip key and management token of its primary (one WAN pool, one ACL
     * system) and gets a replication token of its own.
     */
    async ensureClusterSecrets(a: { resourceKey: string; primaryResourceKey?: string | undefined }): Promise<{ names: string[] }> {
      const primaryKey = a.primaryResourceKey;
      const token = async () => JSON.stringify({ accessorId: randomUUID(), secretId: randomUUID() });
      const fromPrimary = (name: string) => async () => {
        const c = await getSecret(db, primaryKey!, name);
        if (c === undefined) throw ApplicationFailure.nonRetryable(`the primary has no ${name}`, 'SecretMissing');
        return pki.decrypt(c);
      };
      const wanted: Array<[string, () => Promise<string>]> = [
        [SECRET.gossipKey, primaryKey ? fromPrimary(SECRET.gossipKey) : async () => randomBytes(32).toString('base64')],
        [SECRET.managementToken, primaryKey ? fromPrimary(SECRET.managementToken) : token],
        [SECRET.agentToken, token],
        [SECRET.snapshotToken, token],
        ...(primaryKey ? [[SECRET.replicationToken, token] as [string, () => Promise<string>]] : []),
      ];
      for (const [name, make] of wanted) {
        if ((await getSecret(db, a.resourceKey, name)) !== undefined) continue;
        // The first writer wins: a concurrent or retried attempt keeps the stored value.
        await putSecretIfAbsent(db, a.resourceKey, name, await pki.encrypt(await make()));
      }
      return { names: wanted.map(([n]) => n) };
    },

    /** The cluster's intermediate CA in Vault (created once). */
    async ensureClusterPki(a: { plan: ClusterPlan }): Promise<{ mount: string; fingerprint256: string }> {
      // A secondary's CA is signed by its primary's, which must be there.
      if (a.plan.federation) await joinablePrimary(a.plan);
      const ca = await pki.ensureClusterCa({
        clusterKey: a.plan.resourceKey,
        datacenter: a.plan.datacenter,
        maxCertTtlHours: deps.serverCertTtlHours,
        primaryClusterKey: a.plan.federation?.primaryResourceKey,
      });
      return { mount: ca.mount, fingerprint256: ca.fingerprint256 };
    },

    /** The cluster's private Blob container. */
    async ensureClusterContainer(a: { resourceKey: string }): Promise<{ container: string }> {
      return { container: await blobs.ensureContainer(a.resourceKey) };
    },

    /** Terraform plan/apply of the cluster's servers; returns where they are. */
    async applyInfrastructure(a: { plan: ClusterPlan; serverCount: number }): Promise<ServerInfo[]> {
      const result = await whileHeartbeating(() => deps.terraform.terraformApply(terraformInput(deps, a.plan, a.serverCount)));
      const servers = (result.outputs.servers ?? []) as Array<{
        index: number;
        name: string;
        zone: string;
        private_address: string | null;
      }>;
      const pending = servers.filter((s) => !s.private_address).map((s) => s.name);
      if (pending.length) throw ApplicationFailure.retryable(`no address reported yet for ${pending.join(', ')}`, ERR.addressesPending);
      return servers.map((s) => ({ index: s.index, name: s.name, zone: s.zone, address: s.private_address! }));
    },

    /**
     * Each server's certificate, Consul configuration and manifest in its Blob prefix. A valid
     * certificate (right addresses, less than two thirds of its life gone) is kept; otherwise a
     * new one is issued under new blob names, so a certificate and its key always match. The
     * manifest goes last: host-manager sees a new set only when it is complete.
     */
    async publishServerFiles(a: {
      plan: ClusterPlan;
      servers: ServerInfo[];
      generation: number;
      /** Servers to expect before the first leader election (the cluster size at creation). */
      bootstrapExpect: number;
      consulVersion?: string;
    }): Promise<{ certificatesIssued: number }> {
      const { plan } = a;
      // The cluster's own CA only (a secondary's bundle also holds the primary's, which signed it).
      const ca = await caBundle(plan);
      const gossip = await readSecret(plan.resourceKey, SECRET.gossipKey);
      const management = await tokenSecret(plan.resourceKey, SECRET.managementToken);
      const agent = await tokenSecret(plan.resourceKey, SECRET.agentToken);
      // A secondary's servers always get their way into the primary's WAN federation, whichever
      // workflow publishes (create, scale, certificate rotation).
      const federation = plan.federation && {
        ...federationJoin(plan, await joinablePrimary(plan)),
        replicationToken: await tokenSecret(plan.resourceKey, SECRET.replicationToken),
      };
      const addresses = a.servers.map((s) => s.address);
      let issued = 0;
      let earliest: number | undefined;
      for (const s of a.servers) {
        Context.current().heartbeat({ server: s.name });
        const prefix = serverPrefix(s.index);
        let cert = await currentCertificate(blobs, plan.resourceKey, prefix, s.address);
        if (!cert) {
          const c = await pki.issueServerCertificate({
            clusterKey: plan.resourceKey,
            datacenter: plan.datacenter,
            ipAddresses: [s.address],
            ttlHours: deps.serverCertTtlHours,
          });
          const serial = c.serialNumber.replace(/:/g, '');
          cert = {
            certBlob: `${prefix}tls/server-${serial}.pem`,
            keyBlob: `${prefix}tls/server-${serial}.key`,
            notAfter: Date.parse(new X509Certificate(c.certificatePem).validTo),
          };
          await blobs.writeIfNewer(plan.resourceKey, cert.keyBlob, c.privateKeyPem, a.generation);
          // The chain goes with the certificate, so servers of other datacenters (other
          // intermediates under the same root) can verify it.
          await blobs.writeIfNewer(plan.resourceKey, cert.certBlob, `${c.certificatePem.trim()}\n${c.caBundlePem}`, a.generation);
          issued++;
        }
        earliest = Math.min(earliest ?? cert.notAfter, cert.notAfter);
        const config = serverConfig({
          plan,
          server: s,
          addresses,
          gossip,
          management,
          agent,
          bootstrapExpect: a.bootstrapExpect,
          ...(federation ? { federation } : {}),
        });
        await blobs.writeIfNewer(plan.resourceKey, `${prefix}tls/ca.pem`, ca, a.generation);
        await blobs.writeIfNewer(plan.resourceKey, `${prefix}consul.json`, JSON.stringify(config, null, 2), a.generation);
        const manifest = {
          consulVersion: a.consulVersion ?? plan.consulVersion,
          generation: a.generation,
          files: [
            { blob: `${prefix}tls/ca.pem`, path: 'tls/ca.pem' },
            { blob: cert.certBlob, path: 'tls/server.pem' },
            { blob: cert.keyBlob, path: 'tls/server.key' },
            { blob: `${prefix}consul.json`, path: 'config/10-cluster.json' },
          ],
        };
        await blobs.writeIfNewer(plan.resourceKey, `${prefix}manifest.json`, JSON.stringify(manifest, null, 2), a.generation);
      }
      // Shown on the cluster (GET), read-only: when the first of these certificates expires.
      if (earliest !== undefined)
        await mergeClusterStatus(db, plan.resourceKey, { earliestServerCertificateExpiry: new Date(earliest).toISOString() });
      return { certificatesIssued: issued };
    },

    /** How many servers' certificates are missing, for the wrong address or past two thirds of their life. */
    async certificatesDue(a: { plan: ClusterPlan; servers: ServerInfo[] }): Promise<{ due: number }> {
      return { due: await dueCertificates(blobs, a.plan.resourceKey, a.servers) };
    },

    /**
     * The cluster's certificate schedule: checks every twelfth of the certificate lifetime (at
     * least every 10 s), half an hour out of step with the whole-hour snapshot schedule made in the same
     * second, so a snapshot firing never takes the lock at the moment a check comes.
     */
    async ensureCertificateSchedule(a: { resourceKey: string }): Promise<{ outcome: string; intervalSeconds: number }> {
      if (!deps.schedules) throw ApplicationFailure.nonRetryable('this worker has no Temporal schedule client', 'SchedulesUnavailable');
      const intervalSeconds = certificateCheckInterval(deps.serverCertTtlHours);
      const c = await getCluster(db, a.resourceKey);
      if (!c) throw ApplicationFailure.nonRetryable(`cluster ${a.resourceKey} is not in the store`, ERR.clusterNotFound);
      const outcome = await upsertIntervalSchedule(deps.schedules.client, {
        scheduleId: certificateScheduleId(a.resourceKey),
        intervalSeconds,
        phaseSeconds: certificateSchedulePhase(intervalSeconds),
        workflowType: CERTIFICATE_SCHEDULE_WORKFLOW,
        args: [{ resourceKey: a.resourceKey }],
        taskQueue: deps.schedules.taskQueue,
        note: `certificate check of ${a.resourceKey} every ${intervalSeconds} s`,
        searchAttributes: clusterSearchAttributes(
          { resourceKey: a.resourceKey, subscriptionId: c.subscriptionId },
          c.resourceGroup,
          'rotate',
        ),
      });
      return { outcome, intervalSeconds };
    },

    async removeCertificateSchedule(a: { resourceKey: string }): Promise<{ removed: boolean }> {
      if (!deps.schedules) throw ApplicationFailure.nonRetryable('this worker has no Temporal schedule client', 'SchedulesUnavailable');
      return { removed: await deleteSchedule(deps.schedules.client, certificateScheduleId(a.resourceKey)) };
    },

    /**
     * A certificate-schedule firing: when the cluster has servers (whatever its provisioning
     * state), some certificate is due and no other operation runs, records a `rotate` operation
     * (so it shows in the operations list and keeps the one-operation rule) and returns what to
     * start; otherwise records nothing.
     */
    async beginCertificateRotation(a: {
      resourceKey: string;
      operationId: string;
      scheduledBy: string;
    }): Promise<
      | { started: true; workflowId: string; resourceGroup: string; input: ClusterOperationInput }
      | { started: false; reason: string; retry?: { everySeconds: number; forSeconds: number } }
    > {
      const c = await getCluster(db, a.resourceKey);
      if (!c) return { started: false, reason: 'the cluster is not in the store (deleted?)' };
      const workflowId = workflowIdFor(a.resourceKey, 'rotate', a.operationId);
      const input: ClusterOperationInput = {
        operationId: a.operationId,
        kind: 'rotate',
        resourceKey: a.resourceKey,
        resourceId: c.id,
        subscriptionId: c.subscriptionId,
        correlationId: a.scheduledBy,
        params: { scheduled: true },
      };
      const begun = { started: true as const, workflowId, resourceGroup: c.resourceGroup, input };
      if (await getOperation(db, a.operationId)) return begun; // an earlier attempt recorded it
      // Whatever the cluster's provisioningState (a failed scale leaves it Failed): servers
      // whose certificates expire are rotated.
      const servers = await getClusterServers(db, a.resourceKey);
      const skip = safetyWorkSkipReason({ provisioningState: c.provisioningState, serverCount: servers.length });
      if (skip !== undefined) return { started: false, reason: skip };
      if ((await dueCertificates(blobs, a.resourceKey, servers)) === 0) return { started: false, reason: 'no certificate is due' };
      try {
        await insertOperation(db, {
          operationId: a.operationId,
          resourceKey: a.resourceKey,
          subscriptionId: c.subscriptionId,
          location: c.spec.location,
          kind: 'rotate',
          workflowId,
          correlationId: a.scheduledBy,
        });
      } catch (err) {
        // A certificate is due and another operation holds the lock: the firing asks again until
        // the next firing would come, so rotation waits for that operation, not a whole interval.
        if (err instanceof OperationInProgressError) {
          const interval = certificateCheckInterval(deps.serverCertTtlHours);
          return {
            started: false,
            reason: err.message,
            retry: { everySeconds: Math.max(5, Math.min(30, Math.floor(interval / 4))), forSeconds: interval },
          };
        }
        throw err;
      }
      return begun;
    },

    /** Removes the Blob prefixes of servers that no longer exist (after a scale-down). */
    async unpublishServers(a: { resourceKey: string; keepCount: number }): Promise<{ removed: number }> {
      return { removed: await blobs.deleteServerPrefixesFrom(a.resourceKey, a.keepCount) };
    },

    /**
     * The health gate: a leader, exactly the expected voters, autopilot healthy, TLS and ACLs
     * enforced. Polls (heartbeating) until healthy or the gate's time is up.
     */
    async waitForHealthyCluster(a: { plan: ClusterPlan; servers: ServerInfo[] }): Promise<{ leader: string; voters: number }> {
      const ca = await caBundle(a.plan);
      const token = await tokenSecret(a.plan.resourceKey, SECRET.managementToken);
      const last = await pollUntil<HealthReport>(
        (problem) => ApplicationFailure.retryable(`the cluster is not healthy: ${problem}`, ERR.clusterNotHealthy),
        async () => {
          let report: HealthReport | undefined;
          for (const s of a.servers) {
            report = await new ConsulAdmin({ url: `https://${s.address}:${CONSUL_HTTPS_PORT}`, caPem: ca })
              .health(token, a.servers.length)
              .catch((err: unknown) => ({
                healthy: false,
                leader: undefined,
                voters: 0,
                problems: [`${s.name} unreachable: ${err instanceof Error ? err.message : String(err)}`],
              }));
            if (report.healthy) return { done: report };
          }
          return { problem: report?.problems.join('; ') ?? 'no servers' };
        },
      );
      // Plain HTTP must be closed on every server.
      for (const s of a.servers) {
        const open = await fetch(`http://${s.address}:8500/v1/status/leader`).then(
          () => true,
          () => false,
        );
        if (open) throw ApplicationFailure.nonRetryable(`${s.name} answers plain HTTP on port 8500`, 'PlainHttpOpen');
      }
      return { leader: last.leader!, voters: last.voters };
    },

    /** ACLs: bootstrapped (the initial management token), an agent token and our snapshot token. */
    async configureAcls(a: { plan: ClusterPlan; servers: ServerInfo[] }): Promise<{ bootstrap: string }> {
      const { admin: consul, token } = await admin(a.plan, a.servers);
      // A secondary's ACLs are the primary's (bootstrapped there); its token writes go to the primary.
      const bootstrap = a.plan.federation ? 'primary' : await consul.bootstrapAcl(token);
      await ensureTokens(consul, token, a.plan.resourceKey, CLUSTER_TOKENS);
      return { bootstrap };
    },

    /**
     * The endpoint's DNS name (A records to the servers' private addresses, for every cluster)
     * and, only for a cluster with a public endpoint, its ACME certificate by DNS-01: the ACME
     * CA's rate limits are shared by every tenant, so private clusters order nothing.
     */
    async ensureEndpoint(a: { plan: ClusterPlan; servers: ServerInfo[] }): Promise<{ fqdn: string; certificateNotAfter: string | null }> {
      // Before any record (A or ACME TXT) is written: a name another cluster holds is refused.
      claim(`the DNS name ${a.plan.fqdn}`, await deps.dns.ownerOf(a.plan.fqdn), a.plan.owner);
      await deps.dns.setA(
        a.plan.fqdn,
        a.servers.map((s) => s.address),
        a.plan.owner,
      );
      if (!a.plan.publicEndpoint) return { fqdn: a.plan.fqdn, certificateNotAfter: null };
      const cert = await whileHeartbeating(() => acmeFor(a.plan.resourceKey).ensureCertificate({ domain: a.plan.fqdn, now: new Date() }));
      return { fqdn: a.plan.fqdn, certificateNotAfter: cert.notAfter };
    },

    /**
     * A secondary, before its servers start: its agent, snapshot and replication tokens are made
     * in the primary (so they work the moment the servers join), and the primary's servers are
     * where the secondary's servers join the WAN pool.
     */
    async joinFederation(a: { plan: ClusterPlan }): Promise<FederationJoin> {
      const primary = await joinablePrimary(a.plan);
      const { admin: consul, token } = await admin(primary, primary.servers);
      await ensureTokens(consul, token, a.plan.resourceKey, SECONDARY_TOKENS);
      return federationJoin(a.plan, primary);
    },

    /** A secondary's federation gate: the primary's datacenter is reachable and ACL replication runs. */
    async waitForFederation(a: { plan: ClusterPlan; servers: ServerInfo[] }): Promise<{ datacenters: string[]; replicatedIndex: number }> {
      const primaryDc = a.plan.federation!.primaryDatacenter;
      return pollUntil<{ datacenters: string[]; replicatedIndex: number }>(
        (problem) => ApplicationFailure.retryable(`not federated yet: ${problem}`, ERR.federationNotJoined),
        async () => {
          try {
            const { admin: consul, token } = await admin(a.plan, a.servers);
            const datacenters = await consul.datacenters(token);
            const replication = await consul.aclReplication(token);
            if (!datacenters.includes(primaryDc))
              return { problem: `the primary datacenter ${primaryDc} is not in the WAN pool (${datacenters.join(', ')})` };
            if (!replication.enabled || !replication.running) return { problem: 'ACL replication from the primary is not running' };
            if (replication.replicatedIndex === 0) return { problem: 'ACL replication has not copied any token yet' };
            return { done: { datacenters, replicatedIndex: replication.replicatedIndex } };
          } catch (err) {
            return { problem: err instanceof Error ? err.message : String(err) };
          }
        },
      );
    },

    /**
     * A deleted secondary leaves the federation: its servers are removed from the primary's WAN
     * pool and its tokens (which live in the primary) are deleted. Nothing to do when the
     * primary is gone too.
     */
    async leaveFederation(a: { plan: ClusterPlan }): Promise<{ removedMembers: string[]; deletedTokens: number }> {
      const primary = await primaryOf(a.plan);
      // A primary that is gone or going (a Deleted subscription deletes everything) has nothing to leave.
      if (!primary || primary.deleting || primary.servers.length === 0) return { removedMembers: [], deletedTokens: 0 };
      const { admin: consul, token } = await admin(primary, primary.servers);
      let deletedTokens = 0;
      for (const name of [...SECONDARY_TOKENS.map(([, secret]) => secret), SECRET.rootToken]) {
        const stored = await getSecret(db, a.plan.resourceKey, name);
        if (stored === undefined) continue;
        await consul.deleteToken(token, (JSON.parse(await pki.decrypt(stored)) as { accessorId: string }).accessorId);
        deletedTokens++;
      }
      // The servers are gone; the primary notices within seconds (alive -> failed), and a
      // failed member can be pruned. An alive one cannot be removed, so wait for that.
      const removedMembers: string[] = [];
      await pollUntil(
        (problem) =>
          ApplicationFailure.retryable(
            `servers of ${a.plan.datacenter} still in the primary's WAN pool: ${problem}`,
            ERR.clusterNotHealthy,
          ),
        async () => {
          const members = (await consul.wanMembers(token)).filter((m) => m.datacenter === a.plan.datacenter);
          if (members.length === 0) return { done: true };
          for (const m of members.filter((x) => x.status !== 1)) {
            await consul.forceLeaveWan(token, m.name);
            removedMembers.push(m.name);
          }
          return { problem: members.map((m) => m.name).join(', ') };
        },
      );
      return { removedMembers, deletedTokens };
    },

    /** The client configuration customers fetch with listClientConfig, sealed for the API. */
    async publishClientConfig(a: { plan: ClusterPlan; servers: ServerInfo[] }): Promise<void> {
      const doc = clientConfigDocument({
        plan: a.plan,
        servers: a.servers,
        gossip: await readSecret(a.plan.resourceKey, SECRET.gossipKey),
        // Client agents talk to this cluster's servers only: its own intermediate, nothing else.
        caBundlePem: await pki.clusterIntermediate(a.plan.resourceKey),
      });
      await putSecret(
        db,
        a.plan.resourceKey,
        SECRET.clientConfig,
        deps.sealer.seal(JSON.stringify(doc), sealContext(a.plan.resourceKey, SECRET.clientConfig)),
      );
    },

    /** Records the servers and the endpoint in the cluster's observed state. */
    async recordClusterServers(a: { resourceKey: string; servers: ServerInfo[]; fqdn?: string }): Promise<void> {
      await setClusterServers(db, a.resourceKey, a.servers, a.fqdn ? { privateEndpointUrl: `https://${a.fqdn}:${CONSUL_HTTPS_PORT}` } : {});
      const c = await getCluster(db, a.resourceKey);
      if (c) await recordServerCount(db, a.resourceKey, c.subscriptionId, a.servers.length, new Date());
    },

    /** Scale-down, before the instances go: each retiring server leaves raft gracefully. */
    async retireServers(a: { plan: ClusterPlan; servers: ServerInfo[]; retiring: ServerInfo[] }): Promise<{ left: string[] }> {
      const ca = await caBundle(a.plan);
      const token = await tokenSecret(a.plan.resourceKey, SECRET.managementToken);
      const left: string[] = [];
      for (const s of a.retiring) {
        const outcome = await new ConsulAdmin({ url: `https://${s.address}:${CONSUL_HTTPS_PORT}`, caPem: ca }).leave(token);
        if (outcome === 'left') left.push(s.name);
      }
      return { left };
    },

    /** After a scale-down: raft peers that are not among the servers are removed. */
    async pruneRaftPeers(a: { plan: ClusterPlan; servers: ServerInfo[] }): Promise<{ removed: string[] }> {
      const { admin: consul, token } = await admin(a.plan, a.servers);
      return {
        removed: await consul.removePeersNotIn(
          token,
          a.servers.map((s) => s.address),
        ),
      };
    },

    /**
     * A new root (management) token for the customer; the previous one stops working. Its secret
     * is fixed before Consul sees it, so a retry creates the same token, never a second one.
     */
    async rotateRootToken(a: { plan: ClusterPlan; servers: ServerInfo[]; operationId: string }): Promise<{ accessorId: string }> {
      const pendingName = `pending-root-token/${a.operationId}`;
      const pending = JSON.parse(
        await pki.decrypt(
          await putSecretIfAbsent(
            db,
            a.plan.resourceKey,
            pendingName,
            await pki.encrypt(JSON.stringify({ accessorId: randomUUID(), secretId: randomUUID() })),
          ),
        ),
      ) as { accessorId: string; secretId: string };
      const { admin: consul, token } = await admin(a.plan, a.servers);
      await consul.ensureToken(token, {
        name: 'hcs-root',
        rules: '',
        accessorId: pending.accessorId,
        secretId: pending.secretId,
        managementPolicy: true,
      });
      const previous = await getSecret(db, a.plan.resourceKey, SECRET.rootToken);
      if (previous !== undefined) {
        const old = JSON.parse(await pki.decrypt(previous)) as { accessorId: string };
        if (old.accessorId !== pending.accessorId) await consul.deleteToken(token, old.accessorId);
      }
      await putSecret(db, a.plan.resourceKey, SECRET.rootToken, await pki.encrypt(JSON.stringify(pending)));
      const resultName = rootTokenResultName(a.operationId);
      await putSecret(
        db,
        a.plan.resourceKey,
        resultName,
        deps.sealer.seal(JSON.stringify(pending), sealContext(a.plan.resourceKey, resultName)),
      );
      return { accessorId: pending.accessorId };
    },

    /** The raft leader's address (host only). */
    async findLeader(a: { plan: ClusterPlan; servers: ServerInfo[] }): Promise<{ address: string }> {
      const { admin: consul, token } = await admin(a.plan, a.servers);
      return { address: await consul.leaderAddress(token) };
    },

    /**
     * Moves raft leadership away from `from` to an (already upgraded) server, and waits until
     * another server leads. Nothing to do when `from` is not the leader (a retry after success).
     */
    async transferLeadership(a: { plan: ClusterPlan; servers: ServerInfo[]; from: string; to?: string }): Promise<{ leader: string }> {
      const { admin: consul, token } = await admin(a.plan, a.servers);
      for (let i = 0; ; i++) {
        const leader = await consul.leaderAddress(token).catch(() => '');
        if (leader && leader !== a.from) return { leader };
        if (leader === a.from && i % 10 === 0) await consul.transferLeader(token, a.to);
        Context.current().heartbeat({ leader });
        if (i > 120) throw ApplicationFailure.retryable(`leadership did not move away from ${a.from}`, ERR.clusterNotHealthy);
        await Context.current().sleep(500);
      }
    },

    /**
     * Points one server's manifest at another Consul version; host-manager swaps the agent in
     * place (same data, same identity). Writing the version it already has changes nothing.
     */
    async setServerVersion(a: {
      plan: ClusterPlan;
      server: ServerInfo;
      version: string;
      generation: number;
    }): Promise<{ changed: boolean }> {
      const name = `${serverPrefix(a.server.index)}manifest.json`;
      const current = await blobs.read(a.plan.resourceKey, name);
      if (!current) throw ApplicationFailure.nonRetryable(`${a.server.name} has no manifest to upgrade`, 'ManifestMissing');
      const manifest = JSON.parse(current.content.toString('utf8')) as { consulVersion: string; generation: number };
      if (manifest.consulVersion === a.version) return { changed: false };
      const generation = Math.max(a.generation, current.generation + 1);
      const next = { ...manifest, consulVersion: a.version, generation };
      const outcome = await blobs.writeIfNewer(a.plan.resourceKey, name, JSON.stringify(next, null, 2), generation);
      return { changed: outcome === 'written' };
    },

    /**
     * Waits until the server runs `version`, is an alive member again, and the whole cluster
     * passes the health gate (autopilot healthy and stable, every server a voter).
     */
    async waitForServerVersion(a: {
      plan: ClusterPlan;
      servers: ServerInfo[];
      server: ServerInfo;
      version: string;
    }): Promise<{ seconds: number }> {
      const ca = await caBundle(a.plan);
      const token = await tokenSecret(a.plan.resourceKey, SECRET.managementToken);
      const started = Date.now();
      // Ask the upgraded server first, then the others (it may not be a member again yet).
      const askOrder = [a.server, ...a.servers.filter((s) => s.address !== a.server.address)];
      return pollUntil<{ seconds: number }>(
        (problem) =>
          ApplicationFailure.retryable(`${a.server.name} did not come back healthy on ${a.version}: ${problem}`, ERR.clusterNotHealthy),
        async () => {
          let problem = `${a.server.name} is not a member yet`;
          for (const s of askOrder) {
            const consul = new ConsulAdmin({ url: `https://${s.address}:${CONSUL_HTTPS_PORT}`, caPem: ca });
            const member = await consul.member(token, a.server.address).catch(() => undefined);
            if (!member) continue;
            if (!member.version.startsWith(a.version)) return { problem: `${a.server.name} still runs ${member.version}` };
            const report = await consul.health(token, a.servers.length).catch((err: unknown) => ({
              healthy: false,
              problems: [String(err)],
            }));
            if (report.healthy) return { done: { seconds: Math.round((Date.now() - started) / 1000) } };
            problem = report.problems.join('; ');
            break;
          }
          return { problem };
        },
      );
    },

    /** Deletes everything Terraform made for the cluster, and its state. */
    async destroyInfrastructure(a: { plan: ClusterPlan }): Promise<void> {
      await whileHeartbeating(() =>
        deps.terraform.terraformDestroy({ ...terraformInput(deps, a.plan, a.plan.serverCount), deleteState: true }),
      );
    },

    /** Removes the endpoint's DNS records and its certificate; records of another cluster under the name stay. */
    async removeEndpoint(a: { plan: ClusterPlan }): Promise<void> {
      if ((await deps.dns.clearA(a.plan.fqdn, a.plan.owner)) === 'foreign') {
        Context.current().log.warn('the endpoint name belongs to another cluster; its records were left alone', { fqdn: a.plan.fqdn });
        return;
      }
      await deps.dns.clearTxt(`_acme-challenge.${a.plan.fqdn}`);
    },

    async deleteClusterContainer(a: { resourceKey: string }): Promise<{ deleted: boolean }> {
      return { deleted: await blobs.deleteContainer(a.resourceKey) };
    },

    /** Revokes the cluster's CA where it was signed (the root, or a secondary's primary) and removes its PKI mount. */
    async destroyClusterPki(a: { resourceKey: string; primaryResourceKey?: string | undefined }): Promise<void> {
      await pki.destroyClusterCa(a.resourceKey, a.primaryResourceKey);
    },

    async deleteClusterSecrets(a: { resourceKey: string }): Promise<{ deleted: number }> {
      return { deleted: await deleteSecrets(db, a.resourceKey) };
    },
  };
}

export type LifecycleActivities = ReturnType<typeof createLifecycleActivities>;

/**
 * Heartbeats every few seconds while `fn` runs, so a worker that dies is noticed within the
 * heartbeat timeout even when the work itself is quiet (an ACME order, terraform waiting).
 */
async function whileHeartbeating<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(), 5_000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

/** The id of a cluster's certificate schedule. */
export function certificateScheduleId(resourceKey: string): string {
  return `certificates/${resourceKey}`;
}

/** Associated data of a sealed document: which cluster and which document it is. */
export function sealContext(resourceKey: string, name: string): string {
  return `${resourceKey}\n${name}`;
}

function terraformInput(deps: LifecycleDeps, plan: ClusterPlan, serverCount: number) {
  return {
    state: plan.terraformState,
    owner: plan.owner,
    moduleDir: deps.infrastructure.moduleDir,
    rootSubdir: deps.infrastructure.rootSubdir,
    variables: {
      ...deps.infrastructure.variables,
      cluster_name: plan.name,
      location: plan.location,
      resource_group_name: plan.infraResourceGroup,
      consul_version: plan.consulVersion,
      server_count: serverCount,
      vnet_cidr: plan.cidr,
      datacenter: plan.datacenter,
      public_endpoint: plan.publicEndpoint,
      blob_container: plan.container,
      cluster_id: plan.owner.clusterId,
    },
  };
}

/** A server's Consul configuration: TLS everywhere, gossip encrypted, ACLs default deny. */
export function serverConfig(a: {
  plan: ClusterPlan;
  server: ServerInfo;
  addresses: string[];
  gossip: string;
  management: string;
  agent: string;
  bootstrapExpect: number;
  federation?: FederationJoin & { replicationToken: string };
}) {
  const f = a.federation;
  return {
    datacenter: a.plan.datacenter,
    ...(f ? { primary_datacenter: f.primaryDatacenter, retry_join_wan: f.wanJoin } : {}),
    server: true,
    bootstrap_expect: a.bootstrapExpect,
    retry_join: a.addresses.filter((ip) => ip !== a.server.address),
    encrypt: a.gossip,
    ports: { http: -1, https: CONSUL_HTTPS_PORT, grpc: -1, grpc_tls: 8503, dns: -1 },
    tls: {
      defaults: {
        ca_file: 'tls/ca.pem',
        cert_file: 'tls/server.pem',
        key_file: 'tls/server.key',
        verify_incoming: false,
        verify_outgoing: true,
      },
      internal_rpc: { verify_incoming: true, verify_server_hostname: true },
    },
    acl: {
      enabled: true,
      default_policy: 'deny',
      down_policy: 'extend-cache',
      enable_token_persistence: true,
      ...(f ? { enable_token_replication: true } : {}),
      tokens: { initial_management: a.management, agent: a.agent, ...(f ? { replication: f.replicationToken } : {}) },
    },
    autopilot: { cleanup_dead_servers: true, server_stabilization_time: '3s' },
    // Client agents get their RPC certificates from the servers (the servers verify them).
    auto_encrypt: { allow_tls: true },
    ui_config: { enabled: true },
  };
}

/** What a client agent needs to join: consul config JSON, CA bundle and consul-k8s Helm values. */
export function clientConfigDocument(a: { plan: ClusterPlan; servers: ServerInfo[]; gossip: string; caBundlePem: string }) {
  const addresses = a.servers.map((s) => s.address);
  const clientConfig = {
    datacenter: a.plan.datacenter,
    server: false,
    retry_join: addresses,
    encrypt: a.gossip,
    ports: { https: CONSUL_HTTPS_PORT },
    tls: { defaults: { ca_file: 'ca.pem', verify_outgoing: true }, internal_rpc: { verify_server_hostname: true } },
    auto_encrypt: { tls: true },
    acl: { enabled: true, default_policy: 'deny' },
  };
  const helmValues = [
    'global:',
    '  enabled: false',
    `  datacenter: ${a.plan.datacenter}`,
    '  tls:',
    '    enabled: true',
    '    caCert:',
    '      secretName: consul-ca-cert',
    '      secretKey: tls.crt',
    '  gossipEncryption:',
    '    secretName: consul-gossip-key',
    '    secretKey: key',
    '  acls:',
    '    manageSystemACLs: true',
    '    bootstrapToken:',
    '      secretName: consul-bootstrap-token',
    '      secretKey: token',
    'externalServers:',
    '  enabled: true',
    '  hosts:',
    ...addresses.map((h) => `    - ${JSON.stringify(h)}`),
    `  httpsPort: ${CONSUL_HTTPS_PORT}`,
    `  tlsServerName: server.${a.plan.datacenter}.consul`,
    'client:',
    '  enabled: true',
    '  join:',
    ...addresses.map((h) => `    - ${JSON.stringify(h)}`),
    '',
  ].join('\n');
  return { clientConfigJson: JSON.stringify(clientConfig, null, 2), caBundlePem: a.caBundlePem, helmValuesYaml: helmValues };
}

/** Half an hour for intervals above that (snapshot intervals are whole hours), else half the interval. */
/**
 * Seconds between certificate checks: a twelfth of the lifetime (at least 10 s). A certificate
 * becomes due at two thirds of its life, so it is replaced within a sixth of its lifetime even
 * when a check finds another operation holding the lock for up to a twelfth of it.
 */
export function certificateCheckInterval(ttlHours: number): number {
  return Math.max(10, Math.floor((ttlHours * 3600) / 12));
}

export function certificateSchedulePhase(intervalSeconds: number): number {
  return intervalSeconds > 1800 ? 1800 : Math.floor(intervalSeconds / 2);
}
