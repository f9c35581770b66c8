// ARM long-running operations. A write that takes time answers at once with an operation id in
// the Azure-AsyncOperation (status) and Location (result) headers; the work then runs in the
// background and the operation ends Succeeded or Failed. Operation records are persisted with
// the state and re-run by `resume()` after a restart, so a client polling across a twin restart
// still sees its operation finish. Work on one resource (say a scale set) runs one at a time.
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { str } from './json-text.js';
import { CloudError } from './errors.js';
import type { OperationRecord, StateStore } from './state.js';

export type OperationWork = (op: OperationRecord) => Promise<void>;

export interface StartOperationInput {
  kind: string;
  subscriptionId: string;
  namespace: string;
  location: string;
  resourceId: string;
  startedBy: string;
  params?: Record<string, unknown>;
  /** Operations with the same key run one after another (default: the resource id). */
  lockKey?: string;
}

export interface OperationsOptions {
  /** Minimum time an operation stays InProgress, so clients really poll. */
  delayMs: number;
  /** Sent as Retry-After (seconds) on operation responses. */
  retryAfterSeconds: number;
  /**
   * Also sent, when set, as retry-after-ms: the finer poll interval Azure's SDKs prefer when a
   * service gives one (the Go SDK behind azapi reads it before Retry-After); clients that know
   * only Retry-After keep polling by the second.
   */
  pollAfterMs?: number;
  onEvent: (message: string) => void;
}

const KEEP_FINISHED_MS = 60 * 60 * 1000;

export class Operations {
  readonly #work = new Map<string, OperationWork>();
  readonly #chains = new Map<string, Promise<void>>();
  readonly #running = new Set<Promise<void>>();
  #closed = false;

  constructor(
    private readonly store: StateStore,
    private readonly options: OperationsOptions,
  ) {}

  register(kind: string, work: OperationWork): void {
    this.#work.set(kind, work);
  }

  get(id: string): OperationRecord | undefined {
    return this.store.state.operations[id];
  }

  start(input: StartOperationInput): OperationRecord {
    this.#prune();
    const op: OperationRecord = {
      id: randomUUID(),
      kind: input.kind,
      subscriptionId: input.subscriptionId,
      namespace: input.namespace,
      location: normaliseLocation(input.location),
      resourceId: input.resourceId,
      status: 'InProgress',
      startTime: new Date().toISOString(),
      startedBy: input.startedBy,
      params: { ...input.params, lockKey: (input.lockKey ?? input.resourceId).toLowerCase() },
    };
    this.store.state.operations[op.id] = op;
    this.store.save();
    this.#schedule(op);
    return op;
  }

  /** Re-runs operations a previous twin process left InProgress. */
  resume(): void {
    for (const op of Object.values(this.store.state.operations)) if (op.status === 'InProgress') this.#schedule(op);
  }

  /** Stops scheduling and waits for running work; unfinished operations stay InProgress for the next start. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#running]);
  }

  statusUrl(op: OperationRecord, baseUrl: string, apiVersion: string): string {
    return `${baseUrl}/subscriptions/${op.subscriptionId}/providers/${op.namespace}/locations/${op.location}/operations/${op.id}?api-version=${apiVersion}`;
  }

  resultUrl(op: OperationRecord, baseUrl: string, apiVersion: string): string {
    if (op.namespace === 'Microsoft.Resources')
      return `${baseUrl}/subscriptions/${op.subscriptionId}/operationresults/${op.id}?api-version=${apiVersion}`;
    return `${baseUrl}/subscriptions/${op.subscriptionId}/providers/${op.namespace}/locations/${op.location}/operationResults/${op.id}?api-version=${apiVersion}`;
  }

  get retryAfter(): string {
    return String(this.options.retryAfterSeconds);
  }

  /** The poll-interval headers of an operation response: Retry-After, and retry-after-ms when set. */
  get pollHeaders(): Record<string, string> {
    const ms = this.options.pollAfterMs;
    return { 'Retry-After': this.retryAfter, ...(ms !== undefined && ms > 0 ? { 'retry-after-ms': String(ms) } : {}) };
  }

  /** The Azure-AsyncOperation document: always 200, the operation's own state in `status`. */
  statusBody(op: OperationRecord): Record<string, unknown> {
    return {
      id: `/subscriptions/${op.subscriptionId}/providers/${op.namespace}/locations/${op.location}/operations/${op.id}`,
      name: op.id,
      status: op.status,
      startTime: op.startTime,
      ...(op.endTime ? { endTime: op.endTime } : {}),
      ...(op.status === 'Succeeded' ? { percentComplete: 100 } : {}),
      ...(op.error ? { error: op.error } : {}),
    };
  }

  #schedule(op: OperationRecord): void {
    const key = str(op.params?.lockKey) || op.resourceId.toLowerCase();
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const run = previous.then(() => this.#run(op));
    const settled = run.catch(() => {});
    this.#chains.set(key, settled);
    this.#running.add(settled);
    void settled.finally(() => {
      this.#running.delete(settled);
      if (this.#chains.get(key) === settled) this.#chains.delete(key);
    });
  }

  async #run(op: OperationRecord): Promise<void> {
    await delay(this.options.delayMs);
    if (this.#closed) return;
    const work = this.#work.get(op.kind);
    try {
      if (!work) throw new Error(`no handler for operation kind ${op.kind}`);
      await work(op);
      // Work cut short by close() may be incomplete; every handler is idempotent, so the next
      // start simply runs it again.
      if (this.#closed) return;
      op.status = 'Succeeded';
    } catch (err) {
      // Work interrupted by close() is re-run on the next start, not failed.
      if (this.#closed) return;
      op.status = 'Failed';
      op.error =
        err instanceof CloudError
          ? { code: err.code, message: err.message }
          : { code: 'InternalOperationError', message: `The operation failed: ${err instanceof Error ? err.message : String(err)}` };
      this.options.onEvent(`operation ${op.id} (${op.kind} ${op.resourceId}) failed: ${op.error.message}`);
    }
    op.endTime = new Date().toISOString();
    this.store.save();
  }

  #prune(): void {
    const cutoff = Date.now() - KEEP_FINISHED_MS;
    for (const [id, op] of Object.entries(this.store.state.operations)) {
      if (op.status !== 'InProgress' && op.endTime && Date.parse(op.endTime) < cutoff) delete this.store.state.operations[id];
    }
  }
}

/** ARM writes locations without spaces, in lower case ("West Europe" -> "westeurope"). */
export function normaliseLocation(location: string): string {
  return location.replace(/\s+/g, '').toLowerCase();
}
