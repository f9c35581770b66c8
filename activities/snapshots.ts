// Snapshot activities: each cluster's snapshot schedule (a Temporal Schedule built from its
// snapshotPolicy), saving a Consul snapshot into the cluster's Blob container under a data key
// of its own, retention, deletion and restore, and the records the snapshot operations keep.
// Like the lifecycle activities they take and return references (resource keys, snapshot and
// operation ids) and plain facts (sizes, versions) only: ACL tokens and data keys are read,
// unwrapped and used here, inside the worker, and never returned, logged or put in an error.
import { RestError } from '@azure/storage-blob';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { SnapshotPolicy } from '../domain/cluster-spec.js';
import { safetyWorkSkipReason } from '../domain/provisioning.js';
import { workflowIdFor } from '../domain/resource-id.js';
import { compareVersions, parseVersion } from '../domain/versions.js';
import { expiringCertificates } from './server-certificates.js';
import { expiredUpgradeSnapshots, type SnapshotKind } from '../domain/snapshot-retention.js';
import { getCluster, getClusterServers, mergeClusterStatus, type ClusterRecord, type ServerRecord } from '../store/clusters.js';
import { getOperation, insertOperation, OperationInProgressError, updateOperation, type OperationError } from '../store/operations.js';
import { getSecret } from '../store/secrets.js';
import {
  completeSnapshot,
  deleteSnapshotRecord,
  failSnapshot,
  getSnapshot,
  getSnapshotStorage,
  insertSnapshot,
  listSnapshots,
  markSnapshotRestored,
  type SnapshotRecord,
} from '../store/snapshots.js';
import { clusterSearchAttributes, SNAPSHOT_SCHEDULE_WORKFLOW, type ClusterOperationInput } from '../contract/temporal.js';
import { ConsulSnapshotError, pickSnapshotsToDelete, restoreSnapshot, saveSnapshot, type SnapshotEndpoint } from './consul-snapshots.js';
import { CONSUL_HTTPS_PORT, ERR, SECRET, type LifecycleDeps } from './lifecycle.js';
import { deleteSchedule, upsertIntervalSchedule } from './schedules.js';

export type SnapshotDeps = LifecycleDeps & {
  /** Tests only: every snapshot schedule fires this often instead of its policy's interval. */
  snapshotIntervalOverrideSeconds?: number;
};

/** Errors a retry cannot fix (listed in NON_RETRYABLE_ERRORS). */
export const SNAPSHOT_ERR = {
  notFound: 'SnapshotNotFound',
  notReady: 'SnapshotNotReady',
  versionIncompatible: 'SnapshotVersionIncompatible',
  invalidInput: 'InvalidOperationInput',
  schedulesUnavailable: 'SchedulesUnavailable',
} as const;

/** The cluster's snapshot schedule, named like its operation workflows (no leading slash). */
export const snapshotScheduleId = (resourceKey: string) => `snapshots/${resourceKey.replace(/^\/+/, '')}`;

/** Where a snapshot's bytes live in the cluster's container. */
export const snapshotBlobName = (snapshotId: string) => `snapshots/${snapshotId}.snap`;

/** The schedule's interval: the test override, or the policy's hours. */
export function snapshotIntervalSeconds(policy: SnapshotPolicy, overrideSeconds?: number): number {
  return overrideSeconds ?? policy.intervalHours * 3600;
}

/**
 * Snapshots to remove after a snapshot: the COMPLETED automatic ones beyond the newest
 * `retentionCount`, FAILED automatic ones (they hold no data; the failure stays on their
 * operation), and UPGRADE ones taken 7 days or more before `now`. Manual snapshots and anything
 * PENDING are never picked.
 */
export function snapshotsToRemove(snapshots: SnapshotRecord[], retentionCount: number, now: Date): string[] {
  const completed = snapshots
    .filter((s) => s.state === 'COMPLETED')
    .map((s) => ({ id: s.snapshotId, kind: s.kind, requestedAt: s.requestedAt }));
  const failed = snapshots.filter((s) => s.kind === 'AUTOMATIC' && s.state === 'FAILED').map((s) => s.snapshotId);
  return [...pickSnapshotsToDelete(completed, retentionCount), ...failed, ...expiredUpgradeSnapshots(snapshots, now)];
}

/**
 * Why a snapshot taken on `snapshotVersion` cannot be restored onto a cluster running
 * `clusterVersion`, or undefined when it can (same or older snapshot version). Consul reads
 * older snapshots; a newer one may hold state the older servers do not understand.
 */
export function restoreRefusal(snapshotVersion: string | null, clusterVersion: string): string | undefined {
  if (snapshotVersion === null) return undefined;
  const snap = parseVersion(snapshotVersion);
  const current = parseVersion(clusterVersion);
  if (!snap || !current) return `cannot compare Consul versions ${JSON.stringify(snapshotVersion)} and ${JSON.stringify(clusterVersion)}`;
  if (compareVersions(snap, current) <= 0) return undefined;
  return `the snapshot was taken on Consul ${snapshotVersion}, newer than the cluster's ${clusterVersion}; restore it onto ${snapshotVersion} or later`;
}

/** Whether an insert lost the race for the cluster's one active operation. */
function isOperationConflict(err: unknown): err is Error {
  // The check in insertOperation, or the unique partial index when two inserts raced past it.
  return err instanceof OperationInProgressError || (err as { code?: unknown } | null)?.code === '23505';
}

export type ScheduledSnapshotStart =
  { started: true; workflowId: string; resourceGroup: string; input: ClusterOperationInput } | { started: false; reason: string };

export function createSnapshotActivities(deps: SnapshotDeps) {
  const { db, pki, blobs } = deps;

  function log() {
    return Context.current().log;
  }

  async function loadCluster(resourceKey: string): Promise<ClusterRecord> {
    const c = await getCluster(db, resourceKey);
    if (!c) throw ApplicationFailure.nonRetryable(`cluster ${resourceKey} is not in the store`, ERR.clusterNotFound);
    return c;
  }

  const clusterVersion = (c: ClusterRecord) => c.status.currentConsulVersion ?? c.spec.properties.consulVersion;

  async function loadSnapshot(resourceKey: string, snapshotId: string): Promise<SnapshotRecord> {
    const s = await getSnapshot(db, resourceKey, snapshotId);
    if (!s) throw ApplicationFailure.nonRetryable(`snapshot ${snapshotId} does not exist on cluster ${resourceKey}`, SNAPSHOT_ERR.notFound);
    return s;
  }

  /** An ACL token's secret id from the store (transit-decrypted here, never returned). */
  async function token(resourceKey: string, name: string): Promise<string> {
    const c = await getSecret(db, resourceKey, name);
    if (c === undefined) throw ApplicationFailure.nonRetryable(`the cluster has no ${name}; it was never generated`, 'SecretMissing');
    return (JSON.parse(await pki.decrypt(c)) as { secretId: string }).secretId;
  }

  /** Each server's HTTPS API with the cluster CA, in server order. */
  async function endpoints(c: ClusterRecord): Promise<Array<{ server: ServerRecord; url: string; caPem: string }>> {
    const servers = await getClusterServers(db, c.resourceKey);
    if (!servers.length) throw ApplicationFailure.retryable(`cluster ${c.resourceKey} has no servers recorded`, ERR.clusterNotHealthy);
    const caBundlePem = await pki.clusterCaBundle(c.resourceKey);
    return servers.map((server) => ({ server, url: `https://${server.address}:${CONSUL_HTTPS_PORT}`, caPem: caBundlePem }));
  }

  /**
   * Runs `fn` against the first server that serves it (every server forwards to the leader):
   * a server that cannot be reached or answers with an error is passed over; a refusal of the
   * ACL token (403) is final unless `tokens.fallback` gives another token to try on it.
   */
  async function onAnyServer<T>(
    c: ClusterRecord,
    what: string,
    tokens: { primary: () => Promise<string>; fallback?: () => Promise<string> },
    fn: (consul: SnapshotEndpoint) => Promise<T>,
  ): Promise<T> {
    const denied = (err: unknown) => err instanceof ConsulSnapshotError && err.status === 403;
    const problems: string[] = [];
    for (const e of await endpoints(c)) {
      let failure: unknown;
      try {
        return await fn({ url: e.url, caPem: e.caPem, token: await tokens.primary() });
      } catch (err) {
        failure = err;
      }
      if (denied(failure) && tokens.fallback) {
        log().warn(`${what}: Consul refused the first token on ${e.server.name}; trying the fallback token`, {
          resourceKey: c.resourceKey,
        });
        try {
          return await fn({ url: e.url, caPem: e.caPem, token: await tokens.fallback() });
        } catch (err) {
          failure = err;
        }
      }
      // Consul's message (never the token: consul-snapshots redacts it); no other server would say otherwise.
      if (denied(failure)) throw ApplicationFailure.nonRetryable((failure as Error).message, 'ConsulAccessDenied');
      problems.push(`${e.server.name}: ${failure instanceof Error ? failure.message : String(failure)}`);
    }
    throw ApplicationFailure.retryable(`${what} failed on every server: ${problems.join('; ')}`, ERR.clusterNotHealthy);
  }

  async function removeBlob(resourceKey: string, snapshotId: string): Promise<void> {
    await (await blobs.containerClient(resourceKey)).deleteBlob(snapshotBlobName(snapshotId)).catch((err: unknown) => {
      // Already gone, or the whole container is (the cluster is being deleted).
      if (!(err instanceof RestError && err.statusCode === 404)) throw err;
    });
  }

  async function removeSnapshot(resourceKey: string, snapshotId: string): Promise<boolean> {
    await removeBlob(resourceKey, snapshotId);
    return deleteSnapshotRecord(db, resourceKey, snapshotId);
  }

  /** Heartbeats the bytes moved so far, also while Consul is still preparing its answer. */
  async function heartbeating<T>(fn: (onProgress: (bytes: number) => void) => Promise<T>): Promise<T> {
    const ctx = Context.current();
    let bytes = 0;
    const timer = setInterval(() => ctx.heartbeat({ bytes }), 5_000);
    try {
      return await fn((b) => {
        bytes = b;
        ctx.heartbeat({ bytes });
      });
    } finally {
      clearInterval(timer);
    }
  }

  return {
    /**
     * Creates or updates the schedule `snapshots/<resourceKey>` from the cluster's policy. The
     * first snapshot comes one interval after the schedule is made (its phase is that moment,
     * which also spreads clusters over the interval). Unchanged when it already fires at that
     * interval into this task queue. Overlapping firings are skipped.
     */
    async ensureSnapshotSchedule(a: {
      resourceKey: string;
    }): Promise<{ scheduleId: string; intervalSeconds: number; outcome: 'created' | 'updated' | 'unchanged' }> {
      if (!deps.schedules)
        throw ApplicationFailure.nonRetryable('this worker has no Temporal schedule client', SNAPSHOT_ERR.schedulesUnavailable);
      const c = await loadCluster(a.resourceKey);
      const scheduleId = snapshotScheduleId(a.resourceKey);
      const intervalSeconds = snapshotIntervalSeconds(c.spec.properties.snapshotPolicy, deps.snapshotIntervalOverrideSeconds);
      const outcome = await upsertIntervalSchedule(deps.schedules.client, {
        scheduleId,
        intervalSeconds,
        workflowType: SNAPSHOT_SCHEDULE_WORKFLOW,
        args: [{ resourceKey: a.resourceKey }],
        taskQueue: deps.schedules.taskQueue,
        note: `snapshots of ${a.resourceKey} every ${intervalSeconds} s`,
        searchAttributes: clusterSearchAttributes(
          { resourceKey: a.resourceKey, subscriptionId: c.subscriptionId },
          c.resourceGroup,
          'snapshot',
        ),
      });
      return { scheduleId, intervalSeconds, outcome };
    },

    /** Deletes the cluster's snapshot schedule; a schedule that is already gone is fine. */
    async removeSnapshotSchedule(a: { resourceKey: string }): Promise<{ removed: boolean }> {
      if (!deps.schedules)
        throw ApplicationFailure.nonRetryable('this worker has no Temporal schedule client', SNAPSHOT_ERR.schedulesUnavailable);
      return { removed: await deleteSchedule(deps.schedules.client, snapshotScheduleId(a.resourceKey)) };
    },

    /**
     * A schedule firing: records an AUTOMATIC snapshot and its `snapshot` operation in one
     * transaction, unless another operation is active on the cluster, it has no servers yet or
     * it is being deleted (its provisioningState otherwise does not matter); then nothing is
     * recorded and the firing is skipped. Safe to retry (the ids are fixed).
     */
    async beginScheduledSnapshot(a: {
      resourceKey: string;
      operationId: string;
      snapshotId: string;
      scheduledBy: string;
    }): Promise<ScheduledSnapshotStart> {
      const c = await getCluster(db, a.resourceKey);
      if (!c) return { started: false, reason: 'the cluster is not in the store (deleted?)' };
      const workflowId = workflowIdFor(a.resourceKey, 'snapshot', a.operationId);
      const input: ClusterOperationInput = {
        operationId: a.operationId,
        kind: 'snapshot',
        resourceKey: a.resourceKey,
        resourceId: c.id,
        subscriptionId: c.subscriptionId,
        correlationId: a.scheduledBy,
        params: { snapshotId: a.snapshotId, scheduled: true },
      };
      const started: ScheduledSnapshotStart = { started: true, workflowId, resourceGroup: c.resourceGroup, input };
      if (await getOperation(db, a.operationId)) return started; // an earlier attempt recorded it
      // Whatever the cluster's provisioningState: a cluster with servers gets its snapshots.
      const servers = await getClusterServers(db, a.resourceKey);
      const skip = safetyWorkSkipReason({ provisioningState: c.provisioningState, serverCount: servers.length });
      if (skip !== undefined) return { started: false, reason: skip };
      // Certificate rotation goes first: a snapshot holding the lock (and retrying against servers
      // whose certificates lapse) must never keep the rotation that cures them waiting.
      if ((await expiringCertificates(blobs, a.resourceKey, servers)) > 0)
        return { started: false, reason: 'a server certificate is due for rotation, which goes first' };
      try {
        await db.transaction(async (tx) => {
          await insertOperation(tx, {
            operationId: a.operationId,
            resourceKey: a.resourceKey,
            subscriptionId: c.subscriptionId,
            location: c.spec.location,
            kind: 'snapshot',
            workflowId,
            correlationId: a.scheduledBy,
          });
          await insertSnapshot(tx, {
            operationId: a.operationId,
            snapshotId: a.snapshotId,
            resourceKey: a.resourceKey,
            name: `automatic-${new Date().toISOString()}`,
            kind: 'AUTOMATIC',
            state: 'PENDING',
            sizeBytes: null,
            consulVersion: clusterVersion(c),
            finished: false,
          });
        });
      } catch (err) {
        if (!isOperationConflict(err)) throw err;
        log().info('scheduled snapshot skipped: another operation is active', { resourceKey: a.resourceKey, reason: err.message });
        return { started: false, reason: err.message };
      }
      return started;
    },

    /** A PENDING snapshot record (the one a restore or an upgrade takes first); nothing when it exists. */
    async recordSnapshotRequest(a: { resourceKey: string; snapshotId: string; kind: SnapshotKind; name: string }): Promise<void> {
      const c = await loadCluster(a.resourceKey);
      await insertSnapshot(db, { ...a, state: 'PENDING', sizeBytes: null, consulVersion: clusterVersion(c), finished: false });
    },

    /**
     * Streams a snapshot from the cluster's Consul into `snapshots/<id>.snap`, encrypted with a
     * fresh data key from Vault transit; only the wrapped key is stored, on the snapshot's
     * record, which becomes COMPLETED. A snapshot already COMPLETED is left as it is.
     */
    async saveClusterSnapshot(a: { resourceKey: string; snapshotId: string }): Promise<{ sizeBytes: number; consulVersion: string }> {
      const s = await loadSnapshot(a.resourceKey, a.snapshotId);
      if (s.state === 'COMPLETED') return { sizeBytes: s.sizeBytes ?? 0, consulVersion: s.consulVersion ?? '' };
      if (s.state === 'FAILED') throw ApplicationFailure.nonRetryable(`snapshot ${a.snapshotId} has already failed`, SNAPSHOT_ERR.notReady);
      const c = await loadCluster(a.resourceKey);
      const blobName = snapshotBlobName(a.snapshotId);
      const container = await blobs.containerClient(a.resourceKey);
      const dataKey = await pki.dataKey();
      try {
        const saved = await heartbeating((onProgress) =>
          onAnyServer(
            c,
            `snapshot ${a.snapshotId}`,
            {
              primary: () => token(a.resourceKey, SECRET.snapshotToken),
              // Our snapshot policy grants what /v1/snapshot asks for (acl = "write"); should a
              // Consul version want more, the save falls back to the management token (logged).
              fallback: () => token(a.resourceKey, SECRET.managementToken),
            },
            (consul) => saveSnapshot({ consul, container, blobName, key: dataKey.plaintext, onProgress }),
          ),
        );
        const consulVersion = clusterVersion(c);
        const recorded = await db.transaction(async (tx) => {
          const done = await completeSnapshot(tx, a.resourceKey, a.snapshotId, {
            sizeBytes: saved.sizeBytes,
            sha256: saved.sha256,
            blobPath: blobName,
            wrappedKey: dataKey.wrapped,
            consulVersion,
          });
          // Shown on the cluster (GET): when its data was last saved.
          if (done) await mergeClusterStatus(tx, a.resourceKey, { lastSuccessfulSnapshotTime: new Date().toISOString() });
          return done;
        });
        if (!recorded) {
          await removeBlob(a.resourceKey, a.snapshotId);
          throw ApplicationFailure.nonRetryable(`snapshot ${a.snapshotId} was deleted or failed while it was saved`, SNAPSHOT_ERR.notFound);
        }
        return { sizeBytes: saved.sizeBytes, consulVersion };
      } finally {
        dataKey.plaintext.fill(0);
      }
    },

    /** Marks a PENDING snapshot FAILED and removes whatever blob it left. */
    async failClusterSnapshot(a: { resourceKey: string; snapshotId: string }): Promise<{ failed: boolean }> {
      const failed = await failSnapshot(db, a.resourceKey, a.snapshotId);
      if (failed) await removeBlob(a.resourceKey, a.snapshotId);
      return { failed };
    },

    /** Retention after a snapshot: see snapshotsToRemove. Returns the ids removed. */
    async applySnapshotRetention(a: { resourceKey: string }): Promise<{ removed: string[] }> {
      const c = await loadCluster(a.resourceKey);
      const doomed = snapshotsToRemove(await listSnapshots(db, a.resourceKey), c.spec.properties.snapshotPolicy.retentionCount, new Date());
      for (const id of doomed) await removeSnapshot(a.resourceKey, id);
      return { removed: doomed };
    },

    /** Removes a snapshot's blob and record; one that is already gone is fine. */
    async removeClusterSnapshot(a: { resourceKey: string; snapshotId: string }): Promise<{ removed: boolean }> {
      return { removed: await removeSnapshot(a.resourceKey, a.snapshotId) };
    },

    /** Refuses a restore that cannot work: no such snapshot, not COMPLETED, or newer than the cluster. */
    async checkSnapshotRestorable(a: { resourceKey: string; snapshotId: string }): Promise<{ snapshotVersion: string | null }> {
      const s = await loadSnapshot(a.resourceKey, a.snapshotId);
      if (s.state !== 'COMPLETED' || !(await getSnapshotStorage(db, a.resourceKey, a.snapshotId))) {
        throw ApplicationFailure.nonRetryable(
          `snapshot ${a.snapshotId} is ${s.state} and holds no data to restore; only COMPLETED snapshots can be restored`,
          SNAPSHOT_ERR.notReady,
        );
      }
      const refusal = restoreRefusal(s.consulVersion, clusterVersion(await loadCluster(a.resourceKey)));
      if (refusal) throw ApplicationFailure.nonRetryable(refusal, SNAPSHOT_ERR.versionIncompatible);
      return { snapshotVersion: s.consulVersion };
    },

    /** Streams the stored snapshot back into Consul (management token) and records the restore. */
    async restoreClusterSnapshot(a: { resourceKey: string; snapshotId: string }): Promise<{ sizeBytes: number }> {
      const storage = await getSnapshotStorage(db, a.resourceKey, a.snapshotId);
      if (!storage) throw ApplicationFailure.nonRetryable(`snapshot ${a.snapshotId} has no stored data`, SNAPSHOT_ERR.notReady);
      const c = await loadCluster(a.resourceKey);
      const container = await blobs.containerClient(a.resourceKey);
      const key = await pki.unwrapDataKey(storage.wrappedKey);
      try {
        const restored = await heartbeating((onProgress) =>
          onAnyServer(c, `restore of snapshot ${a.snapshotId}`, { primary: () => token(a.resourceKey, SECRET.managementToken) }, (consul) =>
            restoreSnapshot({ consul, container, blobName: storage.blobPath, key, onProgress }),
          ),
        );
        await markSnapshotRestored(db, a.resourceKey, a.snapshotId);
        return restored;
      } finally {
        key.fill(0);
      }
    },

    /**
     * Ends a snapshot, snapshot-delete or restore operation. Unlike the lifecycle's
     * completeOperation/failOperation it leaves the cluster's provisioning state alone: these
     * operations do not provision anything.
     */
    async endSnapshotOperation(a: {
      operationId: string;
      status: 'Succeeded' | 'Failed' | 'Canceled';
      error?: OperationError;
    }): Promise<void> {
      await updateOperation(
        db,
        a.operationId,
        a.status === 'Succeeded'
          ? { status: 'Succeeded', percentComplete: 100, step: 'done' }
          : { status: a.status, error: a.error ?? null },
      );
    },
  };
}

export type SnapshotActivities = ReturnType<typeof createSnapshotActivities>;
