// Microsoft.ManagedIdentity/userAssignedIdentities: synchronous, as in Azure. Each identity is a
// principal of the twin's tenant (principalId = object id, clientId = application id) that role
// assignments name and that a scale set's instances get tokens for.
import { randomUUID } from 'node:crypto';
import {
  bodyObject,
  checkLocation,
  checkPreconditions,
  checkTags,
  newEtag,
  type Services,
  storedType,
  systemData,
  type TypeHandler,
} from '../context.js';
import type { ResourceRecord } from '../state.js';

export const IDENTITY_TYPE = 'Microsoft.ManagedIdentity/userAssignedIdentities';

export function identityHandler(s: Services): TypeHandler {
  return {
    type: IDENTITY_TYPE,
    ...storedType(s.store, IDENTITY_TYPE),
    put: async (ref, id, ctx) => {
      const existing = s.store.get(id);
      checkPreconditions(ctx, existing);
      const body = bodyObject(ctx);
      const name = ref.names[0]!;
      const location = checkLocation(body, existing, name);
      const tags = checkTags(body);
      const record: ResourceRecord = {
        id,
        name,
        type: IDENTITY_TYPE,
        location,
        ...(tags ? { tags } : {}),
        etag: newEtag(),
        properties: {
          tenantId: s.store.state.tenantId,
          principalId: existing?.properties.principalId ?? randomUUID(),
          clientId: existing?.properties.clientId ?? randomUUID(),
          isolationScope: 'None',
        },
        systemData: systemData(ctx.principal, existing),
      };
      s.store.put(record);
      return { status: existing ? 200 : 201, body: { ...record } };
    },
    patch: async (_ref, id, ctx) => {
      const existing = s.store.get(id)!;
      const tags = checkTags(bodyObject(ctx));
      if (tags) existing.tags = tags;
      existing.systemData = systemData(ctx.principal, existing);
      s.store.save();
      return { status: 200, body: { ...existing } };
    },
    delete: async (_ref, id) => {
      if (!s.store.get(id)) return { status: 204 };
      s.store.delete(id);
      return { status: 200 };
    },
  };
}

/** The identity record with this principal id, client id or resource id, if any. */
export function findIdentity(s: Services, by: { principalId?: string; clientId?: string; id?: string }): ResourceRecord | undefined {
  if (by.id) {
    const r = s.store.get(by.id);
    return r?.type === IDENTITY_TYPE ? r : undefined;
  }
  const want = (by.principalId ?? by.clientId ?? '').toLowerCase();
  const field = by.principalId ? 'principalId' : 'clientId';
  return Object.values(s.store.state.resources).find((r) => r.type === IDENTITY_TYPE && String(r.properties[field]).toLowerCase() === want);
}
