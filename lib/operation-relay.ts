// The relay of the operations' start requests (the transactional outbox, store/operation-starts.ts):
// the API commits an operation with its start request and answers; a relay - in the API, the
// embedded process and the worker - starts the workflow, usually within milliseconds (the API
// nudges it after each commit), else at its next poll. It claims the due requests of its task
// queue for a lease (two relays never start one at once; a relay that dies mid-start leaves the
// request to the next), starts each workflow under its deterministic id (already started counts
// as started), then deletes the request. When Temporal fails, the request stays and is tried
// again after a back-off while its operation stays Accepted; when Temporal refuses the start for
// good, the operation fails (OperationNotStarted) as before. A request whose operation ended or
// is being cancelled before its workflow started is dropped without a start (a Canceling one ends
// Canceled: nothing ran).
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Logger } from 'pino';
import type { SqlDatabase } from '../store/database.js';
import { claimStartRequests, deferStartRequest, deleteStartRequest, type ClaimedStart } from '../store/operation-starts.js';
import { getOperation, TERMINAL_STATUSES, updateOperation, type OperationRecord } from '../store/operations.js';
import { countOperationEnded, countOperationStart, type OperationStartOutcome } from './metrics.js';
import type { OperationWorkflowStart, WorkflowStarter } from './operation-starter.js';

export interface OperationRelayOptions {
  db: SqlDatabase;
  /** Starts the workflows; `cancel` stops one whose operation was cancelled while it was being started. */
  starter: WorkflowStarter & { cancel?(workflowId: string): Promise<void> };
  /** The relay starts the requests of this task queue only (those its starter's workers serve). */
  taskQueue: string;
  log?: Pick<Logger, 'info' | 'warn'>;
  /** How often it looks for due requests besides the nudges (default 250 ms). */
  pollMs?: number;
  /** Requests claimed (and started in parallel) at once (default 50). */
  batchSize?: number;
  /** How long a claim holds a request (default 30 s): another relay takes it after that. */
  leaseMs?: number;
  /** A start (or the look-up after a failed one) not answered within this counts as failed (default 10 s; below the lease). */
  startTimeoutMs?: number;
  /** Back-off after a failed start: doubling from initialMs up to maxMs (default 500 ms to 30 s). */
  backoff?: { initialMs: number; maxMs: number };
}

export interface OperationRelay {
  /** Look now (not awaited): the API calls it after each commit. */
  nudge(): void;
  /** Runs until no request is due; resolves with how many it handled (tests, shutdown). */
  drain(): Promise<number>;
  /** Stops polling and waits for the pass under way. */
  stop(): Promise<void>;
}

/** gRPC codes of a start Temporal will refuse again whatever the relay does. */
const DEFINITIVE_CODES = new Set([3 /* INVALID_ARGUMENT */, 9 /* FAILED_PRECONDITION */, 11 /* OUT_OF_RANGE */, 12 /* UNIMPLEMENTED */]);

function grpcCode(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number') return code;
  }
  return undefined;
}

/** Whether Temporal refused the start for good (a bad argument), rather than failing for now. */
export function isDefinitiveRefusal(err: unknown): boolean {
  const code = grpcCode(err);
  return code !== undefined && DEFINITIVE_CODES.has(code);
}

/** What the failed start's error says, without anything from the workflow's input. */
function describe(err: unknown): string {
  const name = err instanceof Error ? err.name : 'error';
  const code = grpcCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return `${name}${code !== undefined ? ` (gRPC ${code})` : ''}: ${message}`.slice(0, 500);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what} did not answer within ${ms} ms`), { name: 'StartTimeout' })), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const isTerminal = (status: string) => (TERMINAL_STATUSES as readonly string[]).includes(status);

export function startOperationRelay(o: OperationRelayOptions): OperationRelay {
  const { db, starter, taskQueue } = o;
  const pollMs = o.pollMs ?? 250;
  const batchSize = o.batchSize ?? 50;
  const leaseMs = o.leaseMs ?? 30_000;
  const startTimeoutMs = o.startTimeoutMs ?? 10_000;
  const backoff = o.backoff ?? { initialMs: 500, maxMs: 30_000 };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let handled = 0;

  /** Ends the operation (no workflow runs for it) and deletes its request, in one transaction. */
  async function endUnstarted(row: ClaimedStart, status: 'Failed' | 'Canceled', message: string): Promise<OperationRecord | undefined> {
    const ended = await db.transaction(async (tx) => {
      const record = await updateOperation(tx, row.operationId, {
        status,
        error: { code: status === 'Canceled' ? 'OperationCanceled' : 'OperationNotStarted', message },
      });
      await deleteStartRequest(tx, row.operationId);
      return record;
    });
    countOperationEnded(ended);
    return ended;
  }

  async function attempt(row: ClaimedStart): Promise<OperationStartOutcome> {
    const ids = { operationId: row.operationId, workflowId: row.workflowId, attempt: row.attempts };
    if (isTerminal(row.status)) {
      await deleteStartRequest(db, row.operationId);
      o.log?.info({ ...ids, status: row.status }, 'start request dropped: its operation ended before its workflow started');
      return 'dropped';
    }
    if (row.status === 'Canceling') {
      // Claimed before (a relay may have started it and died before deleting the request): Temporal says.
      const found =
        row.attempts > 1
          ? await withTimeout(starter.find(row.workflowId), startTimeoutMs, 'the workflow look-up').catch(() => 'unknown' as const)
          : 'absent';
      if (found === 'absent') {
        await endUnstarted(row, 'Canceled', 'The operation was canceled on request before it started; nothing was changed.');
        o.log?.info(ids, 'start request dropped: its operation was cancelled before its workflow started');
        return 'dropped';
      }
      if (found === 'unknown') return defer(row, new Error('the workflow engine could not say whether it has the workflow'));
      // It runs: the cancel reaches it (again), and its own cancellation ends the operation.
      await deleteStartRequest(db, row.operationId);
      await starter
        .cancel?.(row.workflowId)
        .catch((err: unknown) => o.log?.warn({ ...ids, err: describe(err) }, 'cancelling a started workflow failed'));
      return 'dropped';
    }
    // The start joins the trace of the request that recorded the operation.
    const traced = row.traceContext ? propagation.extract(ROOT_CONTEXT, row.traceContext) : ROOT_CONTEXT;
    const start = row.start as unknown as OperationWorkflowStart;
    let started = false;
    let failure: unknown;
    try {
      await context.with(traced, () => withTimeout(starter.start(start), startTimeoutMs, 'the workflow start'));
      started = true;
    } catch (err) {
      failure = err;
      if (err instanceof WorkflowExecutionAlreadyStartedError) started = true;
    }
    // Refused as malformed: Temporal did not take it, and never will.
    if (!started && isDefinitiveRefusal(failure)) {
      // Cancelled meanwhile: it ends Canceled (nothing ran) rather than Failed.
      const canceling = (await getOperation(db, row.operationId))?.status === 'Canceling';
      const ended = await endUnstarted(
        row,
        canceling ? 'Canceled' : 'Failed',
        canceling
          ? 'The operation was canceled on request before it started; nothing was changed.'
          : 'The operation could not be started; nothing was changed. Retry the request.',
      );
      o.log?.warn({ ...ids, err: describe(failure), status: ended?.status }, 'the workflow engine refused the start: the operation failed');
      return 'refused';
    }
    // Any other failure may have been accepted anyway (a deadline): Temporal says.
    const found = started
      ? 'running'
      : await withTimeout(starter.find(row.workflowId), startTimeoutMs, 'the workflow look-up').catch(() => 'unknown' as const);
    if (found === 'running' || found === 'closed') {
      await deleteStartRequest(db, row.operationId);
      countOperationStart('started', (Date.now() - Date.parse(row.createdAt)) / 1000);
      // Cancelled while it was being started (store/operation-starts.ts withdrawStartRequest said
      // `starting`): the cancel may have reached Temporal before the workflow did - ask again.
      const now = await getOperation(db, row.operationId);
      if ((now?.status === 'Canceling' || now?.status === 'Canceled') && starter.cancel) {
        await starter
          .cancel(row.workflowId)
          .catch((err: unknown) => o.log?.warn({ ...ids, err: describe(err) }, 'cancelling a workflow just started failed'));
      }
      return 'started';
    }
    return defer(row, failure);
  }

  /** Tried again after the back-off; the operation stays as it is meanwhile. */
  async function defer(row: ClaimedStart, failure: unknown): Promise<'deferred'> {
    const delayMs = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(20, row.attempts - 1));
    await deferStartRequest(db, row.operationId, delayMs, describe(failure));
    o.log?.warn(
      { operationId: row.operationId, workflowId: row.workflowId, attempt: row.attempts, err: describe(failure), retryInMs: delayMs },
      'workflow start failed: the operation stays Accepted and is started later',
    );
    return 'deferred';
  }

  /** One claim and its starts; the number of requests claimed. */
  async function pass(): Promise<number> {
    const rows = await claimStartRequests(db, { taskQueue, limit: batchSize, leaseMs });
    await Promise.all(
      rows.map(async (row) => {
        try {
          countOperationStart(await attempt(row));
        } catch (err) {
          // The store failed mid-way: the lease runs out and the request is tried again.
          o.log?.warn(
            { operationId: row.operationId, err: describe(err) },
            'handling a start request failed; it is tried again after its lease',
          );
        }
      }),
    );
    handled += rows.length;
    return rows.length;
  }

  /** Passes under way (the poll's and drain's): drain waits for all, as another may hold the rows it skipped. */
  const inflight = new Set<Promise<number>>();
  function tracked(): Promise<number> {
    const p = pass();
    inflight.add(p);
    const done = () => inflight.delete(p);
    p.then(done, done);
    return p;
  }

  function schedule(ms: number): void {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(kick, ms);
    timer.unref();
  }

  function kick(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    clearTimeout(timer);
    running = (async () => {
      try {
        do {
          again = false;
          // A full batch: more may be due at once.
          if ((await tracked()) === batchSize) again = true;
        } while (again && !stopped);
      } catch (err) {
        o.log?.warn({ err: describe(err) }, 'the start relay could not read its requests; it tries again');
      } finally {
        running = undefined;
        schedule(pollMs);
      }
    })();
  }

  schedule(0);
  return {
    nudge() {
      // Not in the caller's context: the relay's own work is no part of the request's trace.
      context.with(ROOT_CONTEXT, kick);
    },
    async drain() {
      const before = handled;
      for (;;) {
        const others = [...inflight];
        const n = await tracked();
        const concurrent = others.length > 0 || inflight.size > 0;
        await Promise.allSettled([...others, ...inflight]);
        // Nothing due, and no other pass held rows this one skipped.
        if (n === 0 && !concurrent) return handled - before;
      }
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
