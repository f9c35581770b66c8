// Snapshot activities: the records the snapshot operations keep (a scheduled firing, a request,
// completion, failure, restore), saving a Consul snapshot into the cluster's Blob container under
// a data key of its own, retention, deletion and restore. The schedule itself is
// snapshot-schedules.ts, the choice of server and heartbeats snapshot-transfer.ts, the streams
// consul-snapshots.ts, the rules domain/snapshot-retention.ts and domain/restore-rules.ts.
// Like the lifecycle activities they take and return references (resource keys, snapshot and
// operation ids) and plain facts (sizes, versions) only: ACL tokens and data keys are read,
// unwrapped and used here, inside the worker, and never returned, logged or put in an error.
import { runningConsulVersion } from '../domain/versions.js';
import { RestError } from '@azure/storage-blob';
import { Context } from '@temporalio/activity';
import { workerFailure } from '../contract/errors.js';
import { restoreRefusal, restoreStateRefusal } from '../domain/restore-rules.js';
import { snapshotsToRemove, type SnapshotKind } from '../domain/snapshot-retention.js';
import { getCluster, mergeClusterStatus, type ClusterRecord } from '../store/clusters.js';
import type { SqlDatabase } from '../store/database.js';
import { updateOperation, type OperationError } from '../store/operations.js';
import { countOperationEnded } from '../lib/metrics.js';
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
import type { ClusterBlobs } from './cluster-blobs.js';
import { restoreSnapshot, saveSnapshot, type SnapshotConsul, type SnapshotEndpoint } from './consul-snapshots.js';
import { SECRET } from '../contract/secret-names.js';
import type { LifecycleDeps } from './cluster-activities.js';
import { acmeRoots, publicEndpointTrust, type EndpointCertificateDeps } from './endpoint-certificate.js';
import { secretReader } from './secrets.js';
import { expiringCertificates } from './server-certificates.js';
import { createSnapshotScheduleActivities, type SnapshotScheduleDeps } from './snapshot-schedules.js';
import { heartbeating, snapshotTransfer } from './snapshot-transfer.js';
import { beginScheduledOperation, type ScheduledStart } from './scheduled-operation.js';
import type { VaultPki } from './vault-pki.js';

/** What the worker hands the lifecycle and snapshot activities (configuration: apps/worker). */
export type SnapshotDeps = LifecycleDeps & {
  /** Tests only: every snapshot schedule fires this often instead of its policy's interval. */
  snapshotIntervalOverrideSeconds?: number;
};

/** What the snapshot activities use of it. */
export interface SnapshotActivityDeps extends SnapshotScheduleDeps {
  db: SqlDatabase;
  /** Vault: transit for stored tokens, the cluster CA, and the snapshots' data keys. */
  pki: Pick<VaultPki, 'decrypt' | 'clusterCaBundle' | 'dataKey' | 'unwrapDataKey'>;
  blobs: ClusterBlobs;
  /** Makes the Consul client of one server (the worker's factory). */
  consulAdmin: (endpoint: SnapshotEndpoint) => SnapshotConsul;
  /** For public endpoints, whose servers present the ACME certificate (absent: every cluster is reached as a private one). */
  publicEndpoints?: Omit<Parameters<typeof publicEndpointTrust>[0], 'db' | 'acmeRootsPem'> & { acme: EndpointCertificateDeps['acme'] };
}

/** Where a snapshot's bytes live in the cluster's container. */
export const snapshotBlobName = (snapshotId: string) => `snapshots/${snapshotId}.snap`;

export function createSnapshotActivities(deps: SnapshotActivityDeps) {
  const { db, pki, blobs } = deps;
  const secrets = secretReader({ db, cipher: pki });
  const p = deps.publicEndpoints;
  const transfer = snapshotTransfer({
    db,
    pki,
    ...(p ? { endpointTrust: publicEndpointTrust({ ...p, db, acmeRootsPem: acmeRoots(p.acme) }) } : {}),
  });

  function log() {
    return Context.current().log;
  }

  async function loadCluster(resourceKey: string): Promise<ClusterRecord> {
    const c = await getCluster(db, resourceKey);
    if (!c) throw workerFailure('ClusterNotFound', `cluster ${resourceKey} is not in the store`);
    return c;
  }

  async function loadSnapshot(resourceKey: string, snapshotId: string): Promise<SnapshotRecord> {
    const s = await getSnapshot(db, resourceKey, snapshotId);
    if (!s) throw workerFailure('SnapshotNotFound', `snapshot ${snapshotId} does not exist on cluster ${resourceKey}`);
    return s;
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

  return {
    ...createSnapshotScheduleActivities(deps),

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
    }): Promise<ScheduledStart> {
      const { snapshotId, ...firing } = a;
      const begun = await beginScheduledOperation(db, {
        ...firing,
        kind: 'snapshot',
        params: { snapshotId, scheduled: true },
        // Certificate rotation goes first: a snapshot holding the lock (and retrying against servers
        // whose certificates lapse) must never keep the rotation that cures them waiting.
        check: async (_c, servers) =>
          (await expiringCertificates(blobs, a.resourceKey, servers)) > 0
            ? 'a server certificate is due for rotation, which goes first'
            : undefined,
        write: (tx, c) =>
          insertSnapshot(tx, {
            operationId: a.operationId,
            snapshotId,
            resourceKey: a.resourceKey,
            name: `automatic-${new Date().toISOString()}`,
            kind: 'AUTOMATIC',
            state: 'PENDING',
            sizeBytes: null,
            consulVersion: runningConsulVersion(c),
            finished: false,
          }),
      });
      if (!begun.started && begun.busy)
        log().info('scheduled snapshot skipped: another operation is active', { resourceKey: a.resourceKey, reason: begun.reason });
      return begun;
    },

    /** A PENDING snapshot record (the one a restore or an upgrade takes first); nothing when it exists. */
    async recordSnapshotRequest(a: { resourceKey: string; snapshotId: string; kind: SnapshotKind; name: string }): Promise<void> {
      const c = await loadCluster(a.resourceKey);
      await insertSnapshot(db, { ...a, state: 'PENDING', sizeBytes: null, consulVersion: runningConsulVersion(c), finished: false });
    },

    /**
     * Streams a snapshot from the cluster's Consul into `snapshots/<id>.snap`, encrypted with a
     * fresh data key from Vault transit; only the wrapped key is stored, on the snapshot's
     * record, which becomes COMPLETED. A snapshot already COMPLETED is left as it is.
     */
    async saveClusterSnapshot(a: { resourceKey: string; snapshotId: string }): Promise<{ sizeBytes: number; consulVersion: string }> {
      const s = await loadSnapshot(a.resourceKey, a.snapshotId);
      if (s.state === 'COMPLETED') return { sizeBytes: s.sizeBytes ?? 0, consulVersion: s.consulVersion ?? '' };
      if (s.state === 'FAILED') throw workerFailure('SnapshotNotReady', `snapshot ${a.snapshotId} has already failed`);
      const c = await loadCluster(a.resourceKey);
      const blobName = snapshotBlobName(a.snapshotId);
      const container = await blobs.containerClient(a.resourceKey);
      const dataKey = await pki.dataKey();
      try {
        const saved = await heartbeating((onProgress, signal) =>
          transfer.onAnyServer(
            c,
            `snapshot ${a.snapshotId}`,
            {
              primary: () => secrets.tokenSecretId(a.resourceKey, SECRET.snapshotToken),
              // Our snapshot policy grants what /v1/snapshot asks for (acl = "write"); should a
              // Consul version want more, the save falls back to the management token (logged).
              fallback: () => secrets.tokenSecretId(a.resourceKey, SECRET.managementToken),
            },
            (consul) =>
              saveSnapshot({ consul, consulAdmin: deps.consulAdmin, container, blobName, key: dataKey.plaintext, onProgress, signal }),
          ),
        );
        const consulVersion = runningConsulVersion(c);
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
          throw workerFailure('SnapshotNotFound', `snapshot ${a.snapshotId} was deleted or failed while it was saved`);
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
      const notReady = restoreStateRefusal(s, (await getSnapshotStorage(db, a.resourceKey, a.snapshotId)) !== undefined);
      if (notReady) throw workerFailure('SnapshotNotReady', notReady);
      const refusal = restoreRefusal(s.consulVersion, runningConsulVersion(await loadCluster(a.resourceKey)));
      if (refusal) throw workerFailure('SnapshotVersionIncompatible', refusal);
      return { snapshotVersion: s.consulVersion };
    },

    /** Streams the stored snapshot back into Consul (management token) and records the restore. */
    async restoreClusterSnapshot(a: { resourceKey: string; snapshotId: string }): Promise<{ sizeBytes: number }> {
      const storage = await getSnapshotStorage(db, a.resourceKey, a.snapshotId);
      if (!storage) throw workerFailure('SnapshotNotReady', `snapshot ${a.snapshotId} has no stored data`);
      const c = await loadCluster(a.resourceKey);
      const container = await blobs.containerClient(a.resourceKey);
      const key = await pki.unwrapDataKey(storage.wrappedKey);
      try {
        const restored = await heartbeating((onProgress, signal) =>
          transfer.onAnyServer(
            c,
            `restore of snapshot ${a.snapshotId}`,
            { primary: () => secrets.tokenSecretId(a.resourceKey, SECRET.managementToken) },
            (consul) =>
              restoreSnapshot({ consul, consulAdmin: deps.consulAdmin, container, blobName: storage.blobPath, key, onProgress, signal }),
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
      const ended = await updateOperation(
        db,
        a.operationId,
        a.status === 'Succeeded'
          ? { status: 'Succeeded', percentComplete: 100, step: 'done' }
          : { status: a.status, error: a.error ?? null },
      );
      countOperationEnded(ended);
    },
  };
}

export type SnapshotActivities = ReturnType<typeof createSnapshotActivities>;
