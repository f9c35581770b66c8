// What the audit log records of an API request (store/audit-log.ts keeps it): every request to
// a route whose verb is PUT, PATCH, POST or DELETE, on REST and gRPC alike, answered or refused.
// A row names the caller (its subject: `user:<oid>`, `arm:<oid>`, `operator:<token name>`,
// `cert:<thumbprint>`, or `anonymous` when it could not be authenticated) and its application id
// (appid/azp), the client address, the correlation and request ids, the resource, the action and
// the outcome (the HTTP status, and the ARM error code of a refusal). Never a token or a body.
//
// Actions follow ARM's provider operation names (rest/server.ts lists them at
// /providers/HCS.Consul/operations): `HCS.Consul/clusters/write` (PUT, PATCH),
// `HCS.Consul/clusters/delete`, `HCS.Consul/clusters/<action>/action` (POST, e.g.
// createSnapshot), `HCS.Consul/operations/cancel/action`, `HCS.Consul/subscriptions/write` (ARM's
// subscription lifecycle) and `HCS.Consul/resourceNotifications/action` (Marketplace). The state
// changes of operations are recorded by the store itself as `HCS.Consul/operations/<kind>`.
//
// The row is written before the answer leaves: a mutating request whose row cannot be written is
// answered 503 AuditLogUnavailable instead (what it changed stands, unaudited requests are not
// answered as if all were well; ARM retries, and the retry is recorded).
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { SqlExecutor } from '../../../store/database.js';
import { appendAuditEntry, type NewAuditEntry } from '../../../store/audit-log.js';
import type { RpcRoute } from './contract.js';
import type { Caller } from './context.js';
import { ApiError } from './errors.js';

/** Audit log rows are kept this many days unless configured (HCS_AUDIT_LOG_RETENTION_DAYS). */
export const DEFAULT_AUDIT_RETENTION_DAYS = 400;

export type AuditRecorder = (entry: NewAuditEntry) => Promise<void>;

export function auditRecorder(db: SqlExecutor): AuditRecorder {
  return async (entry) => {
    await appendAuditEntry(db, entry);
  };
}

/** Whether requests to the route are recorded: every verb but GET. */
export function isAudited(route: Pick<RpcRoute, 'verb'>): boolean {
  return route.verb !== 'get';
}

/** The action a route performs, as named above. */
export function auditAction(route: Pick<RpcRoute, 'verb' | 'path' | 'handler' | 'service'>): string {
  if (route.handler === 'putSubscription') return 'HCS.Consul/subscriptions/write';
  if (route.handler === 'notifyResource') return 'HCS.Consul/resourceNotifications/action';
  const resource = route.service.name === 'OperationService' ? 'operations' : 'clusters';
  if (route.verb === 'delete') return `HCS.Consul/${resource}/delete`;
  if (route.verb === 'post') return `HCS.Consul/${resource}/${route.path.split('/').at(-1)}/action`;
  return `HCS.Consul/${resource}/write`;
}

/**
 * The resource a request is about: the route's path with the request's values, without a
 * POST's trailing action segment; and the subscription it belongs to (whose readers see the row).
 */
export function auditResource(
  route: Pick<RpcRoute, 'verb' | 'path'>,
  values: (field: string) => string | undefined,
): { subscriptionId: string | null; resourceId: string } {
  let template = route.path;
  const segments = template.split('/');
  if (route.verb === 'post' && segments.length > 2 && !/^\{.*\}$/.test(segments.at(-1)!)) template = segments.slice(0, -1).join('/');
  const resourceId = template.replace(/\{([a-z_]+)\}/g, (_, f: string) => values(f) ?? '');
  const sub = route.path.includes('{subscription_id}') ? values('subscription_id') : undefined;
  return { subscriptionId: sub ? sub.toLowerCase() : null, resourceId };
}

export interface RequestAuditFacts {
  route: RpcRoute;
  values: (field: string) => string | undefined;
  caller: Caller | undefined;
  clientAddress: string | null;
  correlationId: string;
  requestId: string;
  /** The HTTP status answered (gRPC: the ARM status the error maps to, 200 for OK). */
  status: number;
  errorCode: string | null;
}

export function requestAuditEntry(f: RequestAuditFacts): NewAuditEntry {
  return {
    ...auditResource(f.route, f.values),
    action: auditAction(f.route),
    outcome: String(f.status),
    errorCode: f.errorCode,
    caller: f.caller?.subject ?? 'anonymous',
    applicationId: f.caller?.applicationId ?? null,
    clientAddress: f.clientAddress,
    correlationId: f.correlationId,
    requestId: f.requestId,
  };
}

/** The answer to a mutating request whose audit row could not be written. */
export function auditUnavailable(requestId: string): ApiError {
  return new ApiError(
    503,
    GrpcStatus.UNAVAILABLE,
    'AuditLogUnavailable',
    `The request could not be recorded in the audit log, so it is not confirmed; retry it. Quote request id ${requestId}.`,
  );
}
