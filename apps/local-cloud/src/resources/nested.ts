// Network resources whose children live both inline in the parent (properties.subnets,
// properties.securityRules) and as child resources (.../subnets/{name}). Azure keeps one truth:
// a parent PUT replaces the whole child list (omitted children are deleted), a child PUT changes
// one entry. Writes are asynchronous as in the network provider: provisioningState 'Updating'
// until the operation ends, 'Deleting' during a delete.
import { randomUUID } from 'node:crypto';
import type { ResourceRef } from '../arm-path.js';
import {
  type ArmContext,
  type ArmReply,
  bodyObject,
  checkLocation,
  checkPreconditions,
  checkTags,
  newEtag,
  objectField,
  refuseWhileBusy,
  type ResourceView,
  type Services,
  type TypeHandler,
} from '../context.js';
import { badRequest } from '../errors.js';
import type { ResourceRecord } from '../state.js';
import { accepted, acceptedPut } from './replies.js';

export interface NestedTypeSpec {
  parentType: string;
  childType: string;
  /** Property of the parent holding the children, also the child path segment. */
  arrayProp: string;
  /** Validates the parent's own properties (children excluded); returns what to store. */
  checkParent(props: Record<string, unknown>): Record<string, unknown>;
  /** Validates one child against its parent and the siblings validated before it. */
  checkChild(
    name: string,
    props: Record<string, unknown>,
    parentProps: Record<string, unknown>,
    siblings: ResourceView[],
  ): Record<string, unknown>;
  /** Read-only extras computed for a new parent (an NSG's default rules). */
  parentExtras?(id: string): Record<string, unknown>;
  /** Who uses this child or parent (a message), when deleting it must be refused. */
  inUse(id: string): string | undefined;
  inUseCode: { parent: string; child: string };
}

export const NETWORK_PUT = 'network.put';
export const NETWORK_DELETE = 'network.delete';

export function nestedTypeHandlers(s: Services, spec: NestedTypeSpec): [TypeHandler, TypeHandler] {
  const childrenOf = (parent: ResourceRecord | undefined): ResourceView[] =>
    (parent?.properties[spec.arrayProp] as ResourceView[] | undefined) ?? [];
  const findChild = (parent: ResourceRecord | undefined, name: string) =>
    childrenOf(parent).find((c) => String(c.name).toLowerCase() === name.toLowerCase());
  const parentIdOf = (childId: string) => childId.split('/').slice(0, -2).join('/');

  const parent: TypeHandler = {
    type: spec.parentType,
    read: (id) => {
      const r = s.store.get(id);
      return r?.type === spec.parentType ? { ...r } : undefined;
    },
    list: (scope) => s.store.under(scope, spec.parentType).map((r) => ({ ...r })),
    put: async (ref, id, ctx) => {
      const existing = s.store.get(id);
      refuseWhileBusy(existing);
      checkPreconditions(ctx, existing);
      const body = bodyObject(ctx);
      const name = ref.names[ref.names.length - 1]!;
      const location = checkLocation(body, existing, name);
      const tags = checkTags(body);
      const props = objectField(body, 'properties');
      const own = spec.checkParent(props);
      const rawChildren = props[spec.arrayProp] ?? [];
      if (!Array.isArray(rawChildren)) throw badRequest('InvalidRequestFormat', `properties.${spec.arrayProp} must be an array.`);
      const children: ResourceView[] = [];
      for (const raw of rawChildren as unknown[]) {
        const c = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
        const childName = typeof c.name === 'string' ? c.name : '';
        if (!childName) throw badRequest('InvalidRequestFormat', `Every entry of properties.${spec.arrayProp} needs a name.`);
        if (children.some((x) => String(x.name).toLowerCase() === childName.toLowerCase())) {
          throw badRequest('InvalidRequestFormat', `properties.${spec.arrayProp} names '${childName}' twice.`);
        }
        const checked = spec.checkChild(childName, objectField(c, 'properties'), own, children);
        children.push(childView(id, childName, checked, findChild(existing, childName)));
      }
      for (const old of childrenOf(existing)) {
        if (children.some((c) => String(c.name).toLowerCase() === String(old.name).toLowerCase())) continue;
        const user = spec.inUse(String(old.id));
        if (user)
          throw badRequest(
            spec.inUseCode.child,
            `${spec.childType.split('/').pop()} ${String(old.id)} is in use by ${user} and cannot be deleted.`,
          );
      }
      const record: ResourceRecord = {
        id,
        name,
        type: spec.parentType,
        location,
        ...(tags ? { tags } : {}),
        etag: newEtag(),
        properties: {
          ...own,
          ...(existing ? pickExtras(existing, spec) : spec.parentExtras?.(id)),
          resourceGuid: existing?.properties.resourceGuid ?? randomUUID(),
          [spec.arrayProp]: children,
          provisioningState: 'Updating',
        },
      };
      s.store.put(record);
      return acceptedPut(s, ctx, { ...record }, !existing, { kind: NETWORK_PUT, namespace: 'Microsoft.Network', resourceId: id, location });
    },
    delete: async (_ref, id, ctx) => {
      const existing = s.store.get(id);
      if (!existing) return { status: 204 };
      const user = spec.inUse(id);
      if (user) throw badRequest(spec.inUseCode.parent, `${existing.name} is in use by ${user} and cannot be deleted.`);
      existing.properties.provisioningState = 'Deleting';
      s.store.save();
      return accepted(s, ctx, {
        kind: NETWORK_DELETE,
        namespace: 'Microsoft.Network',
        resourceId: id,
        location: existing.location ?? 'global',
      });
    },
  };

  const child: TypeHandler = {
    type: spec.childType,
    read: (id) => findChild(s.store.get(parentIdOf(id)), id.split('/').pop()!),
    list: (scope) => {
      const p = s.store.get(scope);
      return p?.type === spec.parentType ? childrenOf(p) : s.store.under(scope, spec.parentType).flatMap(childrenOf);
    },
    put: async (ref: ResourceRef, id: string, ctx: ArmContext): Promise<ArmReply> => {
      const p = s.store.get(parentIdOf(id))!;
      refuseWhileBusy(p);
      const name = ref.names[ref.names.length - 1]!;
      const existing = findChild(p, name);
      const props = objectField(bodyObject(ctx), 'properties');
      const siblings = childrenOf(p).filter((c) => c !== existing);
      const checked = spec.checkChild(name, props, p.properties, siblings);
      const view = childView(p.id, name, checked, existing);
      view.properties = { ...(view.properties as object), provisioningState: 'Updating' };
      p.properties[spec.arrayProp] = existing ? childrenOf(p).map((c) => (c === existing ? view : c)) : [...childrenOf(p), view];
      s.store.save();
      return acceptedPut(s, ctx, view, !existing, {
        kind: NETWORK_PUT,
        namespace: 'Microsoft.Network',
        resourceId: String(view.id),
        location: p.location ?? 'global',
        lockKey: p.id,
      });
    },
    delete: async (_ref, id, ctx) => {
      const p = s.store.get(parentIdOf(id));
      const existing = findChild(p, id.split('/').pop()!);
      if (!p || !existing) return { status: 204 };
      const user = spec.inUse(String(existing.id));
      if (user) throw badRequest(spec.inUseCode.child, `${String(existing.name)} is in use by ${user} and cannot be deleted.`);
      (existing.properties as Record<string, unknown>).provisioningState = 'Deleting';
      s.store.save();
      return accepted(s, ctx, {
        kind: NETWORK_DELETE,
        namespace: 'Microsoft.Network',
        resourceId: String(existing.id),
        location: p.location ?? 'global',
        lockKey: p.id,
      });
    },
  };
  return [parent, child];

  function childView(parentId: string, name: string, props: Record<string, unknown>, existing: ResourceView | undefined): ResourceView {
    const state = (existing?.properties as Record<string, unknown> | undefined)?.provisioningState ?? 'Updating';
    return {
      id: `${parentId}/${spec.arrayProp}/${name}`,
      name,
      type: spec.childType,
      etag: newEtag(),
      properties: { ...props, provisioningState: state },
    };
  }
}

/** Finishes network writes: marks the resource (and a parent's children) Succeeded, or removes it. */
export function registerNetworkOperations(s: Services): void {
  const locate = (id: string): { parent?: ResourceRecord; child?: Record<string, unknown>; arrayProp?: string } => {
    const direct = s.store.get(id);
    if (direct) return { parent: direct };
    const segs = id.split('/');
    const p = s.store.get(segs.slice(0, -2).join('/'));
    const arrayProp = segs[segs.length - 2]!;
    const list = (p?.properties[arrayProp] as Record<string, unknown>[] | undefined) ?? [];
    const child = list.find((c) => String(c.name).toLowerCase() === segs[segs.length - 1]!.toLowerCase());
    return { ...(p ? { parent: p } : {}), ...(child ? { child } : {}), arrayProp };
  };
  const setState = (view: Record<string, unknown>, state: string) => {
    view.properties = { ...(view.properties as object), provisioningState: state };
  };
  s.operations.register(NETWORK_PUT, async (op) => {
    const { parent, child } = locate(op.resourceId);
    if (child) setState(child, 'Succeeded');
    else if (parent) {
      parent.properties.provisioningState = 'Succeeded';
      // Children written inline with the parent finish with it.
      for (const v of Object.values(parent.properties)) {
        if (!Array.isArray(v)) continue;
        for (const c of v) if (c && typeof c === 'object' && 'properties' in c) setState(c as Record<string, unknown>, 'Succeeded');
      }
    }
    s.store.save();
  });
  s.operations.register(NETWORK_DELETE, async (op) => {
    const { parent, child, arrayProp } = locate(op.resourceId);
    if (child && parent && arrayProp) {
      parent.properties[arrayProp] = (parent.properties[arrayProp] as unknown[]).filter((c) => c !== child);
      s.store.save();
    } else if (parent && parent.id.toLowerCase() === op.resourceId.toLowerCase()) {
      s.store.delete(parent.id);
    }
  });
}

function pickExtras(existing: ResourceRecord, spec: NestedTypeSpec): Record<string, unknown> {
  return spec.parentExtras ? Object.fromEntries(Object.keys(spec.parentExtras(existing.id)).map((k) => [k, existing.properties[k]])) : {};
}
