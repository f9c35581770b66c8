// Marketplace metering survives a worker SIGKILLed in the middle of a batch: the worker (the
// production entry, apps/control-plane/src/worker-main.ts, configured by HCS_METERING with the
// twin's client secret as a file) dies right after recording 12 of the 25 events of its first
// batch, which the twin had all accepted (the test hook TEST_HOOK_SIGKILL_AFTER_METERING_RECORDS,
// activities/metering.ts). A worker started again runs the firing's activity again: it sends only
// the 28 events without a record, the twin answers Duplicate for the 13 it had taken, and the
// store records their original ids. Every hour is accepted once: 40 events, 40 records.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, expect, inject, it, vi } from 'vitest';
import { METERING_CRASH_HOOK, type MeteringSummary } from '../../activities/metering.js';
import { startTestCloud, type TestCloud } from '../../apps/local-cloud/src/testing.js';
import type { MeteringConfig } from '../../apps/worker/src/metering-config.js';
import { startOfHour } from '../../domain/metering.js';
import { AesGcmPayloadCodec, parsePayloadKeys } from '../../lib/payload-codec.js';
import { repoRoot } from '../../scripts/toolchain.mjs';
import { meteringRecords } from '../../store/metering.js';
import { useScratchFolder } from '../support/control-plane-fixture.js';
import { acceptedEvents, clusterKey, eventKeys, HOUR, iso, meteringControl, newSubscription, usagePeriod } from '../support/metering.js';
import { useStoreDatabase } from '../support/store-fixture.js';

const stack = inject('stack');
const db = useStoreDatabase();
const dir = useScratchFolder('hcs-metering-crash-');
const taskQueue = `metering-crash-${randomUUID()}`;
const payloadKeys = `meter-1:${randomBytes(32).toString('base64')}`;
const payloadKeysFile = join(dir, 'payload-keys');
writeFileSync(payloadKeysFile, payloadKeys, { mode: 0o600 });
let twin: TestCloud;
let connection: Connection | undefined;
let client: Client;
const children: ChildProcess[] = [];

beforeAll(async () => {
  twin = await startTestCloud({ faultInjection: true });
  connection = await Connection.connect({ address: stack.temporal.address });
  client = new Client({
    connection,
    namespace: stack.temporal.namespace,
    dataConverter: { payloadCodecs: [new AesGcmPayloadCodec(parsePayloadKeys(payloadKeys))] },
  });
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await connection?.close();
  await twin?.dispose();
});

/** The worker process with metering against the twin; resolves once it runs. */
async function startWorkerProcess(env: Record<string, string> = {}): Promise<ChildProcess> {
  const secretFile = join(dir, 'client-secret');
  writeFileSync(secretFile, twin.cloud.clientCredentials.clientSecret, { mode: 0o600 });
  const metering: MeteringConfig = {
    endpoint: twin.cloud.url,
    tenantId: twin.cloud.tenantId,
    clientId: twin.cloud.clientCredentials.clientId,
    clientSecretFile: secretFile,
    authorityHost: twin.cloud.url,
    caCertFile: twin.cloud.caCertFile,
    intervalSeconds: 0,
    concurrency: 1,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'apps', 'control-plane', 'src', 'worker-main.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      HCS_TEMPORAL_ADDRESS: stack.temporal.address,
      HCS_TEMPORAL_NAMESPACE: stack.temporal.namespace,
      HCS_TASK_QUEUE: taskQueue,
      HCS_DATABASE: JSON.stringify(stack.database),
      HCS_CONSUL_CATALOGUE: '[]',
      HCS_PAYLOAD_KEYS_FILE: payloadKeysFile,
      HCS_METERING: JSON.stringify(metering),
      HCS_FLEET_UPGRADE_INTERVAL_SECONDS: '0',
      HCS_LOG_LEVEL: 'info',
      ...env,
    },
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`the worker exited (${signal ?? code}) before it started`)));
    lines.on('line', (line) => {
      if (line.includes('"worker started"')) resolve();
    });
  });
  return child;
}

it('a worker SIGKILLed in the middle of a batch: started again, it sends only what it had not recorded, each hour is metered once', async () => {
  const sub = await newSubscription(db());
  const base = startOfHour(Date.now()) - HOUR;
  // Ten clusters, four finished hours each: 40 events, two batches (25 and 15).
  const keys = Array.from({ length: 10 }, (_, i) => clusterKey(sub, `crash-${i}`));
  for (const key of keys) await usagePeriod(db(), key, 3, base - 4 * HOUR);
  const asOf = base + 5 * 60_000;
  await meteringControl(twin, 'PUT', { now: iso(asOf) });

  const first = await startWorkerProcess({ [METERING_CRASH_HOOK]: '12' });
  const died = new Promise<string | null>((resolve) => first.once('exit', (_code, signal) => resolve(signal)));
  const firing = await client.workflow.start('meteringFiring', {
    taskQueue,
    workflowId: `metering-crash/${randomUUID()}`,
    args: [{ asOf: iso(asOf), subscriptionId: sub }],
  });
  expect(await died).toBe('SIGKILL');

  // The twin took the whole first batch; the store recorded 12 of its answers.
  const recorded = async () => (await Promise.all(keys.map((k) => meteringRecords(db(), k)))).flat();
  expect(await recorded()).toHaveLength(12);
  const taken = await acceptedEvents(twin, sub);
  expect(taken).toHaveLength(25);

  // Another worker: Temporal gives the firing's activity to it once the first one's heartbeat lapses.
  const second = await startWorkerProcess();
  const summary: MeteringSummary = await firing.result();
  expect(summary).toMatchObject({ due: 28, sent: 28, duplicate: 13, accepted: 15, expired: 0 });

  const events = await acceptedEvents(twin, sub);
  expect(events).toHaveLength(40);
  expect(new Set(eventKeys(events)).size).toBe(40);
  const records = await recorded();
  expect(records).toHaveLength(40);
  expect(records.filter((r) => r.status === 'Duplicate')).toHaveLength(13);
  // Each record names the event the twin accepted for its hour, Duplicates included.
  const idOf = new Map(events.map((e) => [`${e.resourceUri}|${e.dimension}|${Date.parse(e.effectiveStartTime)}`, e.usageEventId]));
  for (const r of records) expect(r.usageEventId).toBe(idOf.get(`${r.resourceKey}|${r.dimension}|${r.hour.getTime()}`));
  expect(records.every((r) => r.quantity === 3)).toBe(true);
  second.kill('SIGTERM');
  await vi.waitFor(() => expect(second.exitCode !== null || second.signalCode !== null).toBe(true), { timeout: 30_000 });
}, 180_000);
