// Microsoft.Network/loadBalancers (Standard, public frontends): PUT/GET/DELETE/list, the four
// child collections readable on their own (`.../backendAddressPools/{name}` and so on), and
// Azure's load-balancing rule health API (POST `.../loadBalancingRules/{rule}/health`: up, down
// and every backend address with its probe state and the reason). Writes are asynchronous: the
// operation finishes once the rules' forwarders listen (load-balancing/runtime.ts); a frontend
// that cannot listen leaves the load balancer Failed with the reason in the operation's error.
import { randomUUID } from 'node:crypto';
import {
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
import { badRequest, CloudError } from '../errors.js';
import { str } from '../json-text.js';
import { poolIpConfigurationIds } from '../load-balancing/backends.js';
import type { LoadBalancerRuntime } from '../load-balancing/runtime.js';
import type { ResourceRecord } from '../state.js';
import {
  CHILD_ARRAYS,
  type ChildArray,
  checkLoadBalancer,
  children,
  LOAD_BALANCER_TYPE,
  ruleSpec,
  ruleSpecs,
} from './load-balancer-model.js';
import { PUBLIC_IP_TYPE } from './public-ips.js';
import { accepted, acceptedPut } from './replies.js';

const LB_PUT = 'loadBalancer.put';
const LB_DELETE = 'loadBalancer.delete';

export interface LoadBalancers {
  handlers: TypeHandler[];
  /** The frontend that uses a public IP, for the public IP's in-use check and its ipConfiguration. */
  frontendUsing(publicIpId: string): string | undefined;
  /** After a twin restart: the listeners of every load balancer come back. */
  restoreAll(): Promise<void>;
  /** Closes the listeners of every load balancer in a resource group being deleted. */
  removeIn(groupId: string): Promise<void>;
}

export function loadBalancers(s: Services, runtime: LoadBalancerRuntime, onEvent: (message: string) => void): LoadBalancers {
  const records = () => Object.values(s.store.state.resources).filter((r) => r.type === LOAD_BALANCER_TYPE);
  const publicIpAddress = (pipId: string) => {
    const pip = s.store.get(pipId);
    return pip?.type === PUBLIC_IP_TYPE ? str(pip.properties.ipAddress) || undefined : undefined;
  };
  const frontendUsing = (pipId: string): string | undefined => {
    const want = pipId.toLowerCase();
    for (const lb of records()) {
      const fe = children(lb, 'frontendIPConfigurations').find(
        (c) => str((c.properties.publicIPAddress as { id?: unknown } | undefined)?.id).toLowerCase() === want,
      );
      if (fe) return fe.id;
    }
    return undefined;
  };
  const setState = (lb: ResourceRecord, state: string) => {
    lb.properties.provisioningState = state;
    for (const a of CHILD_ARRAYS) for (const c of children(lb, a)) c.properties = { ...c.properties, provisioningState: state };
    s.store.save();
  };
  const listen = async (lb: ResourceRecord) => {
    try {
      await runtime.apply(lb.id, ruleSpecs(lb, publicIpAddress));
    } catch (err) {
      setState(lb, 'Failed');
      throw new CloudError(500, 'LoadBalancerFrontendNotListening', `Load balancer ${lb.name}: ${(err as Error).message}.`);
    }
    setState(lb, 'Succeeded');
  };

  s.operations.register(LB_PUT, async (op) => {
    const lb = s.store.get(op.resourceId);
    if (lb?.type === LOAD_BALANCER_TYPE) await listen(lb);
  });
  s.operations.register(LB_DELETE, async (op) => {
    await runtime.remove(op.resourceId);
    s.store.delete(op.resourceId);
  });

  const view = (lb: ResourceRecord): ResourceView => {
    const rules = children(lb, 'loadBalancingRules');
    const usedBy = (field: string, id: string) =>
      rules
        .filter((r) => str((r.properties[field] as { id?: unknown } | undefined)?.id).toLowerCase() === id.toLowerCase())
        .map((r) => ({ id: r.id }));
    const withRefs = (array: ChildArray, field: string, extra?: (id: string) => Record<string, unknown>) =>
      children(lb, array).map((c) => {
        const refs = usedBy(field, c.id);
        return { ...c, properties: { ...c.properties, ...(refs.length ? { loadBalancingRules: refs } : {}), ...extra?.(c.id) } };
      });
    return {
      ...lb,
      properties: {
        ...lb.properties,
        frontendIPConfigurations: withRefs('frontendIPConfigurations', 'frontendIPConfiguration'),
        backendAddressPools: withRefs('backendAddressPools', 'backendAddressPool', (id) => {
          const configs = poolIpConfigurationIds(s.store, id);
          return configs.length ? { backendIPConfigurations: configs.map((c) => ({ id: c })) } : {};
        }),
        probes: withRefs('probes', 'probe'),
        loadBalancingRules: rules,
      },
    };
  };
  const read = (id: string) => {
    const r = s.store.get(id);
    return r?.type === LOAD_BALANCER_TYPE ? view(r) : undefined;
  };

  const lb: TypeHandler = {
    type: LOAD_BALANCER_TYPE,
    read,
    list: (scope) => s.store.under(scope, LOAD_BALANCER_TYPE).map(view),
    put: async (ref, id, ctx) => {
      const existing = s.store.get(id);
      refuseWhileBusy(existing);
      checkPreconditions(ctx, existing);
      const body = bodyObject(ctx);
      const name = ref.names[0]!;
      const location = checkLocation(body, existing, name);
      const tags = checkTags(body);
      const sku = objectField(body, 'sku');
      if ((str(sku.name) || 'Standard').toLowerCase() !== 'standard' || (str(sku.tier) || 'Regional').toLowerCase() !== 'regional') {
        throw badRequest('InvalidParameter', 'Only Standard regional load balancers are served by this cloud.', 'sku');
      }
      const props = checkLoadBalancer(id, objectField(body, 'properties'), {
        publicIp: (pipId) => {
          const pip = s.store.get(pipId);
          const usable = pip?.type === PUBLIC_IP_TYPE && pip.properties.provisioningState !== 'Deleting' && pip.location === location;
          return usable ? pip : undefined;
        },
        frontendUsing,
      });
      const record: ResourceRecord = {
        id,
        name,
        type: LOAD_BALANCER_TYPE,
        location,
        ...(tags ? { tags } : {}),
        sku: { name: 'Standard', tier: 'Regional' },
        etag: newEtag(),
        properties: { ...props, resourceGuid: existing?.properties.resourceGuid ?? randomUUID(), provisioningState: 'Updating' },
      };
      setState(record, 'Updating');
      s.store.put(record);
      return acceptedPut(s, ctx, view(record), !existing, { kind: LB_PUT, namespace: 'Microsoft.Network', resourceId: id, location });
    },
    delete: async (_ref, id, ctx) => {
      const existing = s.store.get(id);
      if (!existing) return { status: 204 };
      existing.properties.provisioningState = 'Deleting';
      s.store.save();
      return accepted(s, ctx, { kind: LB_DELETE, namespace: 'Microsoft.Network', resourceId: id, location: existing.location ?? '' });
    },
  };

  const parentOf = (childId: string) => childId.split('/').slice(0, -2).join('/');
  const childHandler = (array: ChildArray): TypeHandler => ({
    type: `${LOAD_BALANCER_TYPE}/${array}`,
    read: (id) => {
      const parent = read(parentOf(id));
      const list = (parent?.properties as Record<string, unknown> | undefined)?.[array] as ResourceView[] | undefined;
      return list?.find((c) => String(c.id).toLowerCase() === id.toLowerCase());
    },
    list: (scope) => {
      const direct = read(scope);
      const parents = direct ? [direct] : s.store.under(scope, LOAD_BALANCER_TYPE).map(view);
      return parents.flatMap((p) => ((p.properties as Record<string, unknown>)[array] as ResourceView[] | undefined) ?? []);
    },
  });
  const ruleHandler = childHandler('loadBalancingRules');
  ruleHandler.actions = {
    // Azure's rule health API; answered at once (200), which its pollers accept as done.
    health: async (_ref, id) => {
      const record = s.store.get(parentOf(id))!;
      const rule = children(record, 'loadBalancingRules').find((c) => c.id.toLowerCase() === id.toLowerCase())!;
      const backends = runtime.health(ruleSpec(record, rule));
      return {
        status: 200,
        body: {
          up: backends.filter((b) => b.state === 'Up').length,
          down: backends.filter((b) => b.state === 'Down').length,
          loadBalancerBackendAddresses: backends.map((b) => ({
            ipAddress: b.ipAddress,
            ...(b.ipConfigurationId ? { networkInterfaceIPConfigurationId: b.ipConfigurationId } : {}),
            state: b.state,
            reason: b.reason,
          })),
        },
      };
    },
  };

  return {
    handlers: [lb, childHandler('frontendIPConfigurations'), childHandler('backendAddressPools'), childHandler('probes'), ruleHandler],
    frontendUsing,
    restoreAll: async () => {
      for (const record of records()) {
        // Load balancers with a write in flight are finished by their operation (resumed after this).
        if (!['Succeeded', 'Failed'].includes(str(record.properties.provisioningState))) continue;
        await listen(record).catch((err: unknown) => onEvent(`load balancer ${record.id} not restored: ${(err as Error).message}`));
      }
    },
    removeIn: async (groupId) => {
      for (const record of s.store.under(groupId, LOAD_BALANCER_TYPE)) await runtime.remove(record.id);
    },
  };
}
