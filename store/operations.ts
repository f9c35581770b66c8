// Long-running operation records: the ARM async-operation documents. The API creates them;
// the operation's workflow moves them along through the store activities.
import type { SqlExecutor } from './database.js';

export const TERMINAL_STATUSES = ['Succeeded', 'Failed', 'Canceled'] as const;
export const ACTIVE_STATUSES = ['Accepted', 'Running', 'Canceling'] as const;
export type OperationStatus = (typeof TERMINAL_STATUSES)[number] | (typeof ACTIVE_STATUSES)[number];

export interface OperationError {
  code: string;
  message: string;
  target?: string;
}

export interface OperationRecord {
  operationId: string;
  resourceKey: string;
  subscriptionId: string;
  location: string;
  kind: string;
  workflowId: string;
  status: OperationStatus;
  percentComplete: number;
  step: string | null;
  error: OperationError | null;
  correlationId: string | null;
  startedAt: string;
  endedAt: string | null;
}

interface Row {
  operation_id: string;
  resource_id: string;
  subscription_id: string;
  location: string;
  kind: string;
  workflow_id: string;
  status: OperationStatus;
  percent_complete: number;
  step: string | null;
  error: OperationError | null;
  correlation_id: string | null;
  started_at: Date | string;
  ended_at: Date | string | null;
}

const columns = `operation_id, resource_id, subscription_id, location, kind, workflow_id, status, percent_complete, step, error, correlation_id, started_at, ended_at`;

function toRecord(r: Row): OperationRecord {
  return {
    operationId: r.operation_id,
    resourceKey: r.resource_id,
    subscriptionId: r.subscription_id,
    location: r.location,
    kind: r.kind,
    workflowId: r.workflow_id,
    status: r.status,
    percentComplete: r.percent_complete,
    step: r.step,
    error: r.error,
    correlationId: r.correlation_id,
    startedAt: new Date(r.started_at).toISOString(),
    endedAt: r.ended_at === null ? null : new Date(r.ended_at).toISOString(),
  };
}

export interface NewOperation {
  operationId: string;
  resourceKey: string;
  subscriptionId: string;
  location: string;
  kind: string;
  workflowId: string;
  correlationId: string | null;
}

/** Thrown when the cluster already has an operation in flight (the unique partial index). */
export class OperationInProgressError extends Error {
  override name = 'OperationInProgressError';
  constructor(readonly running: OperationRecord) {
    super(`operation ${running.operationId} (${running.kind}) is ${running.status.toLowerCase()} on this cluster`);
  }
}

export async function insertOperation(db: SqlExecutor, op: NewOperation): Promise<OperationRecord> {
  const running = await activeOperation(db, op.resourceKey);
  if (running) throw new OperationInProgressError(running);
  const { rows } = await db.query<Row>(
    `INSERT INTO operations (operation_id, resource_id, subscription_id, location, kind, workflow_id, status, correlation_id)
     VALUES ($1, $2, $3, $4, $5, $6, 'Accepted', $7) RETURNING ${columns}`,
    [op.operationId, op.resourceKey, op.subscriptionId, op.location, op.kind, op.workflowId, op.correlationId],
  );
  return toRecord(rows[0]!);
}

export async function getOperation(db: SqlExecutor, operationId: string): Promise<OperationRecord | undefined> {
  const { rows } = await db.query<Row>(`SELECT ${columns} FROM operations WHERE operation_id = $1`, [operationId]);
  return rows[0] ? toRecord(rows[0]) : undefined;
}

export async function activeOperation(db: SqlExecutor, resourceKey: string): Promise<OperationRecord | undefined> {
  const { rows } = await db.query<Row>(
    `SELECT ${columns} FROM operations WHERE resource_id = $1 AND status IN ('Accepted', 'Running', 'Canceling')`,
    [resourceKey],
  );
  return rows[0] ? toRecord(rows[0]) : undefined;
}

export async function listOperations(db: SqlExecutor, resourceKey: string, limit = 100): Promise<OperationRecord[]> {
  const { rows } = await db.query<Row>(`SELECT ${columns} FROM operations WHERE resource_id = $1 ORDER BY started_at DESC LIMIT $2`, [
    resourceKey,
    limit,
  ]);
  return rows.map(toRecord);
}

export interface OperationUpdate {
  status?: OperationStatus;
  percentComplete?: number;
  step?: string;
  error?: OperationError | null;
}

/**
 * Moves an operation along. A terminal operation never changes again, so a retried activity
 * or a late update cannot reopen it.
 */
export async function updateOperation(db: SqlExecutor, operationId: string, u: OperationUpdate): Promise<OperationRecord | undefined> {
  const terminal = u.status !== undefined && (TERMINAL_STATUSES as readonly string[]).includes(u.status);
  const { rows } = await db.query<Row>(
    `UPDATE operations SET
       status = COALESCE($2, status),
       percent_complete = COALESCE($3, percent_complete),
       step = COALESCE($4, step),
       error = CASE WHEN $5::boolean THEN $6::jsonb ELSE error END,
       ended_at = CASE WHEN $7::boolean THEN now() ELSE ended_at END
     WHERE operation_id = $1 AND status NOT IN ('Succeeded', 'Failed', 'Canceled')
     RETURNING ${columns}`,
    [operationId, u.status ?? null, u.percentComplete ?? null, u.step ?? null, u.error !== undefined, u.error ?? null, terminal],
  );
  return rows[0] ? toRecord(rows[0]) : undefined;
}
