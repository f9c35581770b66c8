// The set-up that test files bringing up a control plane share, as vitest hooks registered by one
// call each: the control plane (started before the file's tests, closed after them), a Temporal
// client, a scratch folder, a supervisor for the processes a test starts (Consul client agents);
// and a cluster created through the API to its end.
//
// Each use* call registers a beforeAll and/or an afterAll hook and returns at once. vitest runs
// beforeAll hooks in the order they were registered and afterAll hooks in the reverse order
// (sequence.hooks "stack", its default): hooks a file registers after a use* call run after its
// set-up and before its tear-down. So `useScratchFolder`, then `useControlPlane`, then
// `useClientAgents` stops the agents first, then the control plane, then removes the folder.
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';
import { livenessHeartbeatInterceptor } from '../../activities/polling.js';
import { failureBackoffInterceptor } from '../../activities/retry-delay.js';
import type { StackEndpoints } from '../../devstack/stack.js';
import { Supervisor } from '../../devstack/supervisor.js';
import type { HttpResult } from '../../lib/http.js';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../api/harness.js';
import { freeLoopbackPort } from '../../apps/worker/src/ops-server.js';
import { installTemporalRuntime } from '../../lib/temporal-runtime.js';
import { arm, followLocation } from './lifecycle.js';

/**
 * A stand-in for an object made in beforeAll, usable in the file's helpers and tests as the
 * object itself: every property read goes to the object once it exists (methods bound to it).
 */
function startedLater<T extends object>(what: string, current: () => T | undefined): T {
  return new Proxy({} as T, {
    get(_target, key) {
      const target = current();
      if (!target) {
        // Awaiting or inspecting the stand-in before the start finds nothing, as for a plain object.
        if (key === 'then' || typeof key === 'symbol') return undefined;
        throw new Error(`${what} starts in beforeAll: use it in a test or a hook, not while the file loads`);
      }
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
    has: (_target, key) => key in (current() ?? {}),
    ownKeys: () => Reflect.ownKeys(current() ?? {}),
    getOwnPropertyDescriptor: (_target, key) => {
      const d = Reflect.getOwnPropertyDescriptor(current() ?? {}, key);
      return d ? { ...d, configurable: true } : undefined;
    },
  });
}

export interface UseControlPlaneOptions {
  /** Refuse to start (the file fails) unless the store is PostgreSQL; the message says why. */
  requirePostgres?: string;
  /** beforeAll's timeout (vitest's hookTimeout when absent). */
  timeoutMs?: number;
}

/**
 * The file's control plane: started in beforeAll with the options `options()` returns then
 * (lifecycleConfig makes a work folder, so it is called only when the file runs), closed in afterAll.
 */
export function useControlPlane(
  stack: StackEndpoints,
  options: () => ControlPlaneOptions = () => ({}),
  o: UseControlPlaneOptions = {},
): ControlPlane {
  let cp: ControlPlane | undefined;
  beforeAll(async () => {
    if (o.requirePostgres && stack.database.kind !== 'postgres') throw new Error(o.requirePostgres);
    cp = await startControlPlane(stack, options());
  }, o.timeoutMs);
  afterAll(async () => {
    await cp?.close();
  });
  return startedLater('the control plane', () => cp);
}

/** A Temporal client on the stack's namespace (no payload codec), connected in beforeAll and closed in afterAll. */
export function useTemporalClient(stack: StackEndpoints): Client {
  let connection: Connection | undefined;
  let client: Client | undefined;
  beforeAll(async () => {
    connection = await Connection.connect({ address: stack.temporal.address });
    client = new Client({ connection, namespace: stack.temporal.namespace });
  });
  afterAll(async () => {
    await connection?.close();
  });
  return startedLater('the Temporal client', () => client);
}

/**
 * A Temporal worker in this process running our workflows (workflows/index.ts) on `taskQueue`
 * with the activities `activities()` returns (called in beforeAll: real ones, or fakes of our
 * own activity interfaces); shut down in afterAll once its run has ended.
 */
export function useWorkflowWorker(stack: StackEndpoints, taskQueue: string, activities: () => object): void {
  let worker: Worker | undefined;
  let running: Promise<void> = Promise.resolve();
  beforeAll(async () => {
    // One runtime per test process; keep the worker's own logging to warnings.
    try {
      Runtime.install({ logger: new DefaultLogger(process.env.HCS_TEST_VERBOSE ? 'INFO' : 'WARN') });
    } catch {
      /* installed by an earlier file in this process */
    }
    worker = await Worker.create({
      connection: await NativeConnection.connect({ address: stack.temporal.address }),
      namespace: stack.temporal.namespace,
      taskQueue,
      workflowsPath: fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)),
      activities: activities(),
      // As the product's worker: every activity task heartbeats while it runs, and a heartbeating
      // one's failures wait their backoff.
      interceptors: { activity: [livenessHeartbeatInterceptor, failureBackoffInterceptor] },
    });
    running = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
  });
}

/** A folder of the file's own under the system's temporary folder (made now), removed in afterAll. */
export function useScratchFolder(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** A supervisor for the processes the file's tests start (client agents), its state in `dir`; stopped in afterAll. */
export function useClientAgents(dir: string): Supervisor {
  const agents = new Supervisor({ stateDir: join(dir, 'supervisor') });
  afterAll(async () => {
    await agents.stop();
  });
  return agents;
}

/** The operationResults URL of an async PUT (its Azure-AsyncOperation header names the status URL). */
export function putResultUrl(put: HttpResult): string {
  return String(put.headers['azure-asyncoperation']).replace('/operationStatuses/', '/operationResults/');
}

/** A new cluster through the API as ARM: the PUT answers 201 and its operation ends 200. */
export async function createCluster(cp: ControlPlane, id: string, body: unknown): Promise<HttpResult> {
  const put = await arm(cp, 'PUT', id, body);
  expect(put.status, put.body).toBe(201);
  const done = await followLocation(cp, putResultUrl(put));
  expect(done.status, done.body).toBe(200);
  return done;
}

/**
 * Installs this test process's Temporal runtime with the SDK's metrics on a free loopback port, as
 * a worker process does; call it before anything else that would install one (before
 * useControlPlane). Returns the address (for the worker's ops server, `workerOps`), set in beforeAll.
 */
export function useTemporalSdkMetrics(): { address: string } {
  const sdk = { address: '' };
  beforeAll(async () => {
    sdk.address = `127.0.0.1:${await freeLoopbackPort()}`;
    installTemporalRuntime({ logger: new DefaultLogger(process.env.HCS_TEST_VERBOSE ? 'INFO' : 'WARN'), metricsBindAddress: sdk.address });
  });
  return sdk;
}
