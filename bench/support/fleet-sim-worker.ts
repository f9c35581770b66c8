// Fleet simulation, benchmark only: the one worker of bench/fleet-scale.ts, in a process of its
// own so its CPU and memory are its own. It is the product's worker (apps/worker/src/worker.ts)
// with the real lifecycle dependencies, except for three adaptors that let a few dev agents serve
// many simulated clusters (fleet-sim-agents.ts): a simulated cluster's server address (an agent's
// label) is sent to that agent's HTTPS API, the cluster CA bundle is the agents' CAs, and the
// Blob container of a simulated cluster is its agent's. Started by the benchmark with
// FLEETSIM_WORKER (JSON, below) and the stack in HCS_SCRIPT_STACK; answers 'usage' messages with
// process.cpuUsage() and the RSS, and stops on 'stop'.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ClusterBlobs } from '../../activities/cluster-blobs.js';
import { ConsulAdmin, type ConsulEndpoint } from '../../activities/consul-admin.js';
import { derivedNames, type ClusterNamesOf } from '../../activities/cluster-names.js';
import type { SnapshotDeps } from '../../activities/snapshots.js';
import type { VaultPki } from '../../activities/vault-pki.js';
import { blobServiceClient } from '../../apps/worker/src/cloud-access.js';
import { buildLifecycleDeps } from '../../apps/worker/src/lifecycle-config.js';
import { startWorker } from '../../apps/worker/src/worker.js';
import { temporalServerConnection } from '../../devstack/services/temporal-server.js';
import type { StackEndpoints } from '../../devstack/stack.js';
import { AesGcmPayloadCodec, parsePayloadKeys } from '../../lib/payload-codec.js';
import { deriveSealingKeys, SecretBox } from '../../lib/secret-box.js';
import type { TemporalConnectionConfig } from '../../lib/temporal-connection.js';
import { openDatabase } from '../../store/database.js';
import { lifecycleConfig } from '../../test/support/lifecycle.js';
import { simAgentContainer, type SimAgent } from './fleet-sim-agents.js';
import { FLEETSIM_CERT_TTL_HOURS, simAgentOf, simClusterIndex } from './fleet-sim.js';

export interface SimWorkerConfig {
  taskQueue: string;
  payloadKeys: string;
  agents: Array<Pick<SimAgent, 'label' | 'url' | 'caPem'>>;
  /** The fleet design of the safety schedules: one schedule firing every this many seconds. */
  fleetSlotSeconds?: number;
}

/** Usage report of the worker process. */
export interface SimWorkerUsage {
  cpuMicros: number;
  rssBytes: number;
  at: number;
}

/** The stack's Temporal as our processes connect to it (the production server: mutual TLS). */
export function temporalOf(stack: StackEndpoints): TemporalConnectionConfig {
  return 'tls' in stack.temporal ? temporalServerConnection(stack.temporal) : stack.temporal;
}

/** The real dependencies with the simulation's three adaptors. */
export function simDeps(
  real: SnapshotDeps,
  agents: SimWorkerConfig['agents'],
  service: ReturnType<typeof blobServiceClient>,
): SnapshotDeps {
  const bundle = agents.map((a) => a.caPem.trim()).join('\n') + '\n';
  const byLabel = new Map(agents.map((a) => [a.label, a.url]));
  const pki = Object.assign(Object.create(real.pki) as VaultPki, { clusterCaBundle: async () => bundle });
  const names: ClusterNamesOf = async (resourceKey) => {
    const i = simClusterIndex(resourceKey);
    if (i === undefined) return real.names(resourceKey);
    const clusterId = `f1ee7517${String(i).padStart(24, '0')}`;
    const n = derivedNames(`fleetsim-${i}`, clusterId);
    return { clusterId, names: { ...n, container: simAgentContainer(simAgentOf(i, agents.length)) }, owner: { clusterId } };
  };
  return {
    ...real,
    pki,
    names,
    blobs: new ClusterBlobs(service, names),
    consulAdmin: (endpoint: ConsulEndpoint) => {
      const agent = byLabel.get(new URL(endpoint.url).hostname);
      return new ConsulAdmin(agent ? { ...endpoint, url: agent } : endpoint);
    },
  };
}

async function main(): Promise<void> {
  const stack = JSON.parse(process.env.HCS_SCRIPT_STACK ?? '') as StackEndpoints;
  const cfg = JSON.parse(process.env.FLEETSIM_WORKER ?? '') as SimWorkerConfig;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const db = await openDatabase(stack.database);
  const keys = parsePayloadKeys(cfg.payloadKeys);
  const parsed = lifecycleConfig(stack, { serverCertTtlHours: FLEETSIM_CERT_TTL_HOURS });
  const real = buildLifecycleDeps(parsed, { db, sealer: new SecretBox(deriveSealingKeys(keys)) });
  const worker = await startWorker({
    temporal: temporalOf(stack),
    db,
    taskQueue: cfg.taskQueue,
    payloadCodec: new AesGcmPayloadCodec(keys),
    lifecycle: simDeps(real, cfg.agents, blobServiceClient(parsed.blob)),
    ...(cfg.fleetSlotSeconds ? { fleetSafetySlotSeconds: cfg.fleetSlotSeconds } : {}),
  });
  process.on('message', (m: unknown) => {
    if (m === 'usage') {
      const c = process.cpuUsage();
      const usage: SimWorkerUsage = { cpuMicros: c.user + c.system, rssBytes: process.memoryUsage().rss, at: Date.now() };
      process.send?.(usage);
    }
    if (m === 'stop') void worker.shutdown().then(() => process.exit(0));
  });
  process.send?.('ready');
  await worker.done;
}

if (process.env.FLEETSIM_WORKER) await main();
