// AuditLogService: a subscription's audit log (store/audit-log.ts), for the subscription's
// readers. Only the subscription's own rows are ever read: the path's subscription bounds the
// query whatever $filter or $skipToken say (a token only holds a position in the chain).
import { throwIfAny } from '../../../../domain/errors.js';
import { checkSubscriptionId } from '../../../../domain/resource-id.js';
import type { SqlExecutor } from '../../../../store/database.js';
import { queryAuditLog, type AuditEntry } from '../../../../store/audit-log.js';
import { parseAuditFilter } from '../audit-filter.js';
import type { RequestContext } from '../context.js';
import { badRequest } from '../errors.js';
import { requireRole, requireSubscription } from './authorize.js';

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
const TOKEN_LIST = 'auditLogs';

export interface AuditLogRequest {
  subscriptionId: string;
  filter?: string;
  skipToken?: string;
  top?: number;
}

export interface AuditLogView {
  id: string;
  name: string;
  type: string;
  sequence: string;
  eventTimestamp: string;
  category: string;
  resourceId?: string;
  action: string;
  outcome: string;
  errorCode?: string;
  caller: string;
  applicationId?: string;
  clientAddress?: string;
  correlationId?: string;
  requestId?: string;
  operationId?: string;
}

export function auditLogHandlers(deps: { db: SqlExecutor }) {
  return {
    async listAuditLogs(req: AuditLogRequest, ctx: RequestContext): Promise<{ value: AuditLogView[]; nextLink?: string }> {
      requireRole(ctx, 'reader');
      requireSubscription(ctx, req.subscriptionId, `Subscription '${req.subscriptionId}'`);
      throwIfAny(checkSubscriptionId(req.subscriptionId));
      const filter = parseAuditFilter(req.filter);
      const limit = pageSize(req.top);
      const beforeSeq = positionOf(req.skipToken);
      const { items, more } = await queryAuditLog(deps.db, {
        subscriptionId: req.subscriptionId,
        ...filter,
        ...(beforeSeq ? { beforeSeq } : {}),
        limit,
      });
      const value = items.map((e) => view(req.subscriptionId, e));
      const last = items.at(-1);
      if (!more || !last) return { value };
      const q = new URLSearchParams({ 'api-version': ctx.apiVersion });
      if (req.filter) q.set('$filter', req.filter);
      if (req.top) q.set('$top', String(req.top));
      q.set('$skipToken', Buffer.from(JSON.stringify([TOKEN_LIST, last.seq])).toString('base64url'));
      return { value, nextLink: `${ctx.baseUrl}/subscriptions/${req.subscriptionId}/providers/HCS.Consul/auditLogs?${q.toString()}` };
    },
  };
}

function pageSize(top: number | undefined): number {
  const n = top ?? DEFAULT_PAGE;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE)
    throw badRequest('InvalidParameter', `$top must be an integer from 1 to ${MAX_PAGE}; got ${n}.`, '$top');
  return n;
}

/** The sequence number a continuation token holds; a token that is not one of this list's is a 400. */
function positionOf(token: string | undefined): string | undefined {
  if (!token) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    parsed[0] !== TOKEN_LIST ||
    typeof parsed[1] !== 'string' ||
    !/^[1-9]\d{0,17}$/.test(parsed[1])
  )
    throw badRequest('InvalidParameter', '$skipToken is not a continuation token from this list; start again without it.', '$skipToken');
  return parsed[1];
}

function view(subscriptionId: string, e: AuditEntry): AuditLogView {
  const optional = (k: keyof AuditLogView, v: string | null) => (v === null ? {} : { [k]: v });
  return {
    id: `/subscriptions/${subscriptionId}/providers/HCS.Consul/auditLogs/${e.seq}`,
    name: e.seq,
    type: 'HCS.Consul/auditLogs',
    sequence: e.seq,
    eventTimestamp: e.eventTime,
    category: e.category,
    ...optional('resourceId', e.resourceId),
    action: e.action,
    outcome: e.outcome,
    ...optional('errorCode', e.errorCode),
    caller: e.caller,
    ...optional('applicationId', e.applicationId),
    ...optional('clientAddress', e.clientAddress),
    ...optional('correlationId', e.correlationId),
    ...optional('requestId', e.requestId),
    ...optional('operationId', e.operationId),
  };
}
