// The seams between the router (HTTP, auth, api-version, RBAC, resource-group checks) and the
// per-type handlers (what a resource is and what writing it does).
import type { ResourceRef } from './arm-path.js';
import type { Operations } from './operations.js';
import type { Authorizer } from './rbac.js';
import type { ResourceRecord, StateStore, SystemData } from './state.js';
import type { Principal } from './tokens.js';
import { badRequest, conflict, CloudError } from './errors.js';
import { randomUUID } from 'node:crypto';

export interface ArmContext {
  method: string;
  principal: Principal;
  /** Scheme and host the caller used; status and result URLs are built on it. */
  baseUrl: string;
  apiVersion: string;
  query: Record<string, string | undefined>;
  body: unknown;
  headers: Record<string, string | undefined>;
}

export interface ArmReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type ResourceView = Record<string, unknown>;

/** One resource type: how to read, list and write it. */
export interface TypeHandler {
  type: string;
  read(id: string, ctx: ArmContext): ResourceView | undefined;
  /** Resources of this type directly or indirectly under the scope id (subscription, group or parent). */
  list(scopeId: string, ctx: ArmContext): ResourceView[];
  put?(ref: ResourceRef, id: string, ctx: ArmContext): Promise<ArmReply>;
  patch?(ref: ResourceRef, id: string, ctx: ArmContext): Promise<ArmReply>;
  delete?(ref: ResourceRef, id: string, ctx: ArmContext): Promise<ArmReply>;
  actions?: Record<string, (ref: ResourceRef, id: string, ctx: ArmContext) => Promise<ArmReply>>;
}

export interface Services {
  store: StateStore;
  operations: Operations;
  authorizer: Authorizer;
}

/** Reads and writes kept as whole records in the state store (most types). */
export function storedType(store: StateStore, type: string): Pick<TypeHandler, 'read' | 'list'> {
  return {
    read: (id) => {
      const r = store.get(id);
      return r && r.type === type ? { ...r } : undefined;
    },
    list: (scopeId) => store.under(scopeId, type).map((r) => ({ ...r })),
  };
}

export function bodyObject(ctx: ArmContext): Record<string, unknown> {
  const b = ctx.body;
  if (!b || typeof b !== 'object' || Array.isArray(b)) {
    throw badRequest('InvalidRequestContent', 'The request content was invalid and could not be deserialized: a JSON object is required.');
  }
  return b as Record<string, unknown>;
}

export function objectField(body: Record<string, unknown>, name: string): Record<string, unknown> {
  const v = body[name];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw badRequest('InvalidRequestContent', `'${name}' must be a JSON object.`, name);
  return v as Record<string, unknown>;
}

/** Location is required on create and can never change (compared ignoring case and spaces). */
export function checkLocation(body: Record<string, unknown>, existing: ResourceRecord | undefined, name: string): string {
  const loc = body.location;
  if (typeof loc !== 'string' || loc.trim() === '') {
    if (existing?.location) return existing.location;
    throw badRequest('LocationRequired', 'The location property is required for this definition.', 'location');
  }
  const norm = (s: string) => s.replace(/\s+/g, '').toLowerCase();
  if (existing?.location && norm(existing.location) !== norm(loc)) {
    throw badRequest(
      'InvalidResourceLocation',
      `The resource '${name}' already exists in location '${existing.location}'. A resource with the same name cannot be created in location '${loc}'. Please select a new resource name.`,
      'location',
    );
  }
  return norm(loc);
}

export function checkTags(body: Record<string, unknown>): Record<string, string> | undefined {
  const tags = body.tags;
  if (tags === undefined || tags === null) return undefined;
  if (typeof tags !== 'object' || Array.isArray(tags) || Object.values(tags).some((v) => typeof v !== 'string')) {
    throw badRequest('InvalidTag', 'Tags must be an object of string values.', 'tags');
  }
  return tags as Record<string, string>;
}

/** If-Match / If-None-Match on writes: 412 when the stored etag does not match. */
export function checkPreconditions(ctx: ArmContext, existing: ResourceRecord | undefined): void {
  const ifMatch = ctx.headers['if-match'];
  const ifNoneMatch = ctx.headers['if-none-match'];
  if (ifNoneMatch === '*' && existing) throw new CloudError(412, 'PreconditionFailed', 'The resource already exists (If-None-Match: *).');
  if (ifMatch && ifMatch !== '*' && existing?.etag !== ifMatch) {
    throw new CloudError(412, 'PreconditionFailed', `The ETag ${ifMatch} does not match the resource's current ETag.`);
  }
  if (ifMatch === '*' && !existing) throw new CloudError(412, 'PreconditionFailed', 'The resource does not exist (If-Match: *).');
}

export function newEtag(): string {
  return `W/"${randomUUID()}"`;
}

export function systemData(principal: Principal, existing: ResourceRecord | undefined): SystemData {
  const now = new Date().toISOString();
  const by = principal.clientId;
  const byType = principal.kind === 'managedIdentity' ? 'ManagedIdentity' : 'Application';
  return {
    createdBy: existing?.systemData?.createdBy ?? by,
    createdByType: existing?.systemData?.createdByType ?? byType,
    createdAt: existing?.systemData?.createdAt ?? now,
    lastModifiedBy: by,
    lastModifiedByType: byType,
    lastModifiedAt: now,
  };
}

/** ARM refuses writes to a resource whose previous write is still running, naming the state. */
export function refuseWhileBusy(existing: ResourceRecord | undefined): void {
  const state = existing?.properties.provisioningState;
  if (state === 'Deleting') {
    throw conflict('OperationNotAllowed', `The resource '${existing?.name}' is being deleted; retry once the deletion has finished.`);
  }
}
