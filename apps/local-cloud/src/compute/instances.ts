// A scale set's instances as ARM resources (`.../virtualMachineScaleSets/{name}/virtualMachines/{id}`)
// and their network interfaces. They have no records of their own: views are computed from the
// scale set's instance list and the live process state.
import type { ArmContext, Services, TypeHandler } from '../context.js';
import type { InstanceRecord, ResourceRecord, ScaleSetInternal } from '../state.js';
import type { ComputeRuntime, InstanceAction } from './runtime.js';
import { startInstanceAction } from './scale-sets.js';
import { instanceView, nicViews, VM_TYPE, vmView, VMSS_TYPE } from './views.js';

const VM_ACTIONS: InstanceAction[] = ['restart', 'reimage', 'reimageall', 'start', 'poweroff', 'deallocate'];

export function instanceHandlers(s: Services, runtime: ComputeRuntime): TypeHandler[] {
  /** The scale set and instance a VM (or VM child) id points at. */
  const locate = (id: string): { vmss: ResourceRecord; internal: ScaleSetInternal; inst: InstanceRecord } | undefined => {
    const m = /^(.*)\/virtualMachines\/([^/]+)(?:\/.*)?$/i.exec(id);
    if (!m?.[1] || !m[2]) return undefined;
    const vmss = s.store.get(m[1]);
    const internal = s.store.scaleSet(m[1]);
    const inst = internal?.instances.find((i) => i.instanceId === m[2]);
    return vmss?.type === VMSS_TYPE && internal && inst ? { vmss, internal, inst } : undefined;
  };
  const expand = (ctx: ArmContext) => (ctx.query.$expand ?? '').toLowerCase() === 'instanceview';
  const view = (vmss: ResourceRecord, internal: ScaleSetInternal, inst: InstanceRecord, ctx: ArmContext) =>
    vmView(vmss, internal, inst, runtime.powerState(vmss.id, inst), expand(ctx));

  const actions: NonNullable<TypeHandler['actions']> = {
    instanceview: async (_ref, id) => {
      const { vmss, inst } = locate(id)!;
      return { status: 200, body: instanceView(inst, runtime.powerState(vmss.id, inst)) };
    },
  };
  for (const action of VM_ACTIONS) {
    actions[action] = async (_ref, id, ctx) => {
      const { vmss, inst } = locate(id)!;
      return startInstanceAction(s, ctx, vmss, action, [inst.instanceId], id);
    };
  }

  const vm: TypeHandler = {
    type: VM_TYPE,
    read: (id, ctx) => {
      const found = locate(id);
      return found && view(found.vmss, found.internal, found.inst, ctx);
    },
    list: (scope, ctx) => {
      const vmss = s.store.get(scope);
      const internal = s.store.scaleSet(scope);
      if (vmss?.type !== VMSS_TYPE || !internal) return [];
      return internal.instances.map((inst) => view(vmss, internal, inst, ctx));
    },
    actions,
    delete: async (_ref, id, ctx) => {
      const found = locate(id);
      if (!found) return { status: 204 };
      return startInstanceAction(s, ctx, found.vmss, 'delete', [found.inst.instanceId], id);
    },
  };

  // NICs of one instance, and of the whole scale set (Azure lists both).
  const vmNics: TypeHandler = {
    type: `${VM_TYPE}/networkInterfaces`,
    read: (id) => {
      const found = locate(id);
      return found ? nicViews(found.vmss, found.inst).find((n) => String(n.id).toLowerCase() === id.toLowerCase()) : undefined;
    },
    list: (scope) => {
      const found = locate(scope);
      return found ? nicViews(found.vmss, found.inst) : [];
    },
  };
  const setNics: TypeHandler = {
    type: `${VMSS_TYPE}/networkInterfaces`,
    read: () => undefined,
    list: (scope) => {
      const vmss = s.store.get(scope);
      const internal = s.store.scaleSet(scope);
      return vmss && internal ? internal.instances.flatMap((inst) => nicViews(vmss, inst)) : [];
    },
  };
  return [vm, vmNics, setNics];
}
