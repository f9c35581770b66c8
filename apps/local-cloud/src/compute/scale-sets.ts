// Microsoft.Compute/virtualMachineScaleSets (Uniform): PUT/PATCH/DELETE are long-running and
// finish only once the instances' processes run; POST restart/reimage/delete/start/powerOff act
// on the instances named in `instanceIds` (all when omitted, as Azure does).
import { randomUUID } from 'node:crypto';
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
  type Services,
  systemData,
  type TypeHandler,
} from '../context.js';
import { str } from '../json-text.js';
import { badRequest, CloudError } from '../errors.js';
import { findIdentity } from '../resources/identities.js';
import { children, LOAD_BALANCER_TYPE } from '../resources/load-balancer-model.js';
import { accepted, acceptedPut } from '../resources/replies.js';
import type { ResourceRecord, ScaleSetInternal } from '../state.js';
import type { ComputeRuntime, InstanceAction } from './runtime.js';
import { nicConfigs, scaleSetInstanceView, VMSS_TYPE } from './views.js';

const ZONES = ['1', '2', '3'];
/** Azure's limit: 64 KiB of customData, base64-encoded. */
const MAX_CUSTOM_DATA_CHARS = 87_380;
export const VMSS_PUT = 'vmss.put';
export const VMSS_DELETE = 'vmss.delete';
export const VMSS_ACTION = 'vmss.action';
const ACTIONS: InstanceAction[] = ['restart', 'reimage', 'reimageall', 'delete', 'start', 'poweroff', 'deallocate'];

export function scaleSetHandler(s: Services, runtime: ComputeRuntime): TypeHandler {
  s.operations.register(VMSS_PUT, async (op) => {
    const setState = (state: string) => {
      const vmss = s.store.get(op.resourceId);
      if (vmss) vmss.properties.provisioningState = state;
      s.store.save();
    };
    try {
      await runtime.reconcile(op.resourceId);
    } catch (err) {
      setState('Failed');
      throw err;
    }
    setState('Succeeded');
  });
  s.operations.register(VMSS_DELETE, async (op) => {
    await runtime.removeScaleSet(op.resourceId);
    s.store.delete(op.resourceId);
  });
  s.operations.register(VMSS_ACTION, async (op) => {
    const vmssId = str(op.params?.vmssId) || op.resourceId;
    await runtime.act(vmssId, op.params?.action as InstanceAction, (op.params?.instanceIds as string[] | undefined) ?? []);
  });

  const read = (id: string) => {
    const r = s.store.get(id);
    return r?.type === VMSS_TYPE ? { ...r } : undefined;
  };
  const start = (ctx: ArmContext, vmss: ResourceRecord, created: boolean) =>
    acceptedPut(s, ctx, { ...vmss }, created, {
      kind: VMSS_PUT,
      namespace: 'Microsoft.Compute',
      resourceId: vmss.id,
      location: vmss.location ?? '',
    });

  const actions: NonNullable<TypeHandler['actions']> = {
    instanceview: async (_ref, id) => {
      const internal = s.store.scaleSet(id)!;
      return { status: 200, body: scaleSetInstanceView(internal.instances.map((inst) => ({ inst, power: runtime.powerState(id, inst) }))) };
    },
  };
  for (const action of [...ACTIONS, 'manualupgrade']) {
    actions[action] = async (_ref, id, ctx) => {
      const internal = s.store.scaleSet(id)!;
      const body = (ctx.body && typeof ctx.body === 'object' ? ctx.body : {}) as Record<string, unknown>;
      const ids = instanceIdsOf(body, internal, action === 'delete');
      return startInstanceAction(s, ctx, s.store.get(id)!, action === 'manualupgrade' ? 'reimage' : (action as InstanceAction), ids);
    };
  }

  return {
    type: VMSS_TYPE,
    read,
    list: (scope) => s.store.under(scope, VMSS_TYPE).map((r) => ({ ...r })),
    actions,
    put: async (ref, id, ctx) => {
      const existing = s.store.get(id);
      refuseWhileBusy(existing);
      checkPreconditions(ctx, existing);
      const body = bodyObject(ctx);
      const name = ref.names[0]!;
      const location = checkLocation(body, existing, name);
      const tags = checkTags(body);
      const sku = checkSku(objectField(body, 'sku'), existing);
      const zones = checkZones(body.zones, existing);
      const identity = checkIdentity(s, body.identity);
      const props = objectField(body, 'properties');
      const profile = objectField(props, 'virtualMachineProfile');
      if (!existing && Object.keys(profile).length === 0) {
        throw badRequest('InvalidParameter', 'properties.virtualMachineProfile is required.', 'properties.virtualMachineProfile');
      }
      const { profile: stored, customData } = splitSecrets(profile);
      checkSubnets(s, stored);
      checkBackendPools(s, stored, id);
      const internal: ScaleSetInternal = s.store.scaleSet(id) ?? { modelVersion: 0, nextInstanceId: 0, instances: [] };
      const previous = existing?.properties.virtualMachineProfile;
      const newCustomData = customData ?? internal.customData;
      if (!existing || JSON.stringify(previous) !== JSON.stringify(stored) || newCustomData !== internal.customData)
        internal.modelVersion++;
      if (newCustomData !== undefined) internal.customData = newCustomData;
      const { provisioningState: _p, uniqueId: _u, timeCreated: _t, ...rest } = props;
      const record: ResourceRecord = {
        id,
        name,
        type: VMSS_TYPE,
        location,
        ...(tags ? { tags } : {}),
        sku,
        ...(zones.length ? { zones } : {}),
        ...(identity ? { identity } : {}),
        etag: newEtag(),
        properties: {
          orchestrationMode: 'Uniform',
          upgradePolicy: { mode: 'Manual' },
          singlePlacementGroup: true,
          platformFaultDomainCount: 1,
          ...rest,
          virtualMachineProfile: stored,
          provisioningState: existing ? 'Updating' : 'Creating',
          uniqueId: existing?.properties.uniqueId ?? randomUUID(),
          timeCreated: existing?.properties.timeCreated ?? new Date().toISOString(),
        },
        systemData: systemData(ctx.principal, existing),
      };
      s.store.put(record);
      s.store.setScaleSet(id, internal);
      return start(ctx, record, !existing);
    },
    patch: async (_ref, id, ctx) => {
      const existing = s.store.get(id)!;
      refuseWhileBusy(existing);
      const body = bodyObject(ctx);
      const tags = checkTags(body);
      if (tags) existing.tags = tags;
      if (body.sku !== undefined) existing.sku = checkSku(objectField(body, 'sku'), existing);
      if (body.identity !== undefined) {
        const identity = checkIdentity(s, body.identity);
        if (identity) existing.identity = identity;
        else delete existing.identity;
      }
      existing.etag = newEtag();
      existing.properties.provisioningState = 'Updating';
      existing.systemData = systemData(ctx.principal, existing);
      s.store.save();
      return start(ctx, existing, false);
    },
    delete: async (_ref, id, ctx) => {
      const existing = s.store.get(id);
      if (!existing) return { status: 204 };
      existing.properties.provisioningState = 'Deleting';
      s.store.save();
      return accepted(s, ctx, { kind: VMSS_DELETE, namespace: 'Microsoft.Compute', resourceId: id, location: existing.location ?? '' });
    },
  };
}

/** Queues an instance action on the scale set (one operation at a time per scale set). */
export function startInstanceAction(
  s: Services,
  ctx: ArmContext,
  vmss: ResourceRecord,
  action: InstanceAction,
  instanceIds: string[],
  resourceId = vmss.id,
): ArmReply {
  const internal = s.store.scaleSet(vmss.id)!;
  if (action === 'delete') {
    for (const i of internal.instances) if (instanceIds.includes(i.instanceId)) i.provisioningState = 'Deleting';
    s.store.save();
  }
  return accepted(s, ctx, {
    kind: VMSS_ACTION,
    namespace: 'Microsoft.Compute',
    resourceId,
    location: vmss.location ?? '',
    params: { vmssId: vmss.id, action, instanceIds },
    lockKey: vmss.id,
  });
}

function instanceIdsOf(body: Record<string, unknown>, internal: ScaleSetInternal, required: boolean): string[] {
  const raw = body.instanceIds;
  if (raw === undefined || raw === null || (Array.isArray(raw) && raw.length === 0 && !required)) {
    if (required) throw badRequest('InvalidParameter', 'instanceIds is required.', 'instanceIds');
    return internal.instances.map((i) => i.instanceId);
  }
  if (!Array.isArray(raw) || raw.some((x) => typeof x !== 'string'))
    throw badRequest('InvalidParameter', 'instanceIds must be an array of strings.', 'instanceIds');
  for (const id of raw as string[]) {
    if (!internal.instances.some((i) => i.instanceId === id)) {
      throw badRequest(
        'InvalidParameter',
        `The provided instanceId ${id} is not an active Virtual Machine Scale Set VM instanceId.`,
        'instanceIds',
      );
    }
  }
  return raw as string[];
}

function checkSku(sku: Record<string, unknown>, existing: ResourceRecord | undefined): Record<string, unknown> {
  const merged = { ...existing?.sku, ...sku };
  const capacity = merged.capacity;
  if (typeof capacity !== 'number' || !Number.isInteger(capacity) || capacity < 0 || capacity > 1000) {
    throw badRequest('InvalidParameter', `sku.capacity must be an integer from 0 to 1000, not ${String(capacity)}.`, 'sku.capacity');
  }
  if (typeof merged.name !== 'string' || !merged.name)
    throw badRequest('InvalidParameter', 'sku.name (the VM size) is required.', 'sku.name');
  return { tier: 'Standard', ...merged };
}

function checkZones(raw: unknown, existing: ResourceRecord | undefined): string[] {
  if (raw === undefined || raw === null) return existing?.zones ?? [];
  if (!Array.isArray(raw) || raw.some((z) => !ZONES.includes(String(z)))) {
    throw badRequest('InvalidParameter', `zones must be a subset of ${JSON.stringify(ZONES)}.`, 'zones');
  }
  const zones = raw.map(String);
  const removed = (existing?.zones ?? []).filter((z) => !zones.includes(z));
  if (removed.length)
    throw badRequest('PropertyChangeNotAllowed', `Zones cannot be removed from a scale set (removed: ${removed.join(', ')}).`, 'zones');
  return zones;
}

function checkIdentity(s: Services, raw: unknown): Record<string, unknown> | undefined {
  if (raw === undefined || raw === null) return undefined;
  const identity = raw as { type?: unknown; userAssignedIdentities?: Record<string, unknown> };
  const type = str(identity.type);
  if (type === 'None') return undefined;
  if (type !== 'UserAssigned') {
    throw badRequest(
      'InvalidParameter',
      `identity.type '${type}' is not supported here: use 'UserAssigned' (system-assigned identities are not modelled).`,
      'identity.type',
    );
  }
  const out: Record<string, unknown> = {};
  for (const id of Object.keys(identity.userAssignedIdentities ?? {})) {
    const found = findIdentity(s, { id });
    if (!found) {
      throw badRequest(
        'FailedIdentityOperation',
        `Identity operation failed: the user-assigned identity '${id}' was not found.`,
        'identity.userAssignedIdentities',
      );
    }
    out[found.id] = { principalId: found.properties.principalId, clientId: found.properties.clientId };
  }
  if (!Object.keys(out).length)
    throw badRequest('InvalidParameter', 'identity.userAssignedIdentities must name at least one identity.', 'identity');
  return { type, userAssignedIdentities: out };
}

/** customData and adminPassword are write-only in Azure: kept aside, never returned. */
function splitSecrets(profile: Record<string, unknown>): { profile: Record<string, unknown>; customData?: string } {
  const os = (profile.osProfile ?? {}) as Record<string, unknown>;
  const { customData, adminPassword: _p, ...osRest } = os;
  if (customData !== undefined) {
    if (typeof customData !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(customData) || customData.length % 4 !== 0) {
      throw badRequest('InvalidParameter', 'customData must be base64-encoded.', 'properties.virtualMachineProfile.osProfile.customData');
    }
    if (customData.length > MAX_CUSTOM_DATA_CHARS) {
      throw badRequest('InvalidParameter', 'customData is larger than 64 KiB.', 'properties.virtualMachineProfile.osProfile.customData');
    }
  }
  const stored = { ...profile, ...(profile.osProfile ? { osProfile: osRest } : {}) };
  return { profile: stored, ...(typeof customData === 'string' ? { customData } : {}) };
}

function checkSubnets(s: Services, profile: Record<string, unknown>): void {
  for (const nic of nicConfigs({ properties: { virtualMachineProfile: profile } } as unknown as ResourceRecord)) {
    for (const ip of nic.ipConfigs) {
      if (!ip.subnetId) continue;
      const vnetId = ip.subnetId.split('/').slice(0, -2).join('/');
      const subnets = (s.store.get(vnetId)?.properties.subnets as Array<{ name?: string }> | undefined) ?? [];
      const name = ip.subnetId.split('/').pop()!.toLowerCase();
      if (!subnets.some((sn) => String(sn.name).toLowerCase() === name)) {
        throw new CloudError(
          400,
          'InvalidResourceReference',
          `Resource ${ip.subnetId} referenced by the scale set's network profile was not found.`,
        );
      }
    }
  }
}

/** Every loadBalancerBackendAddressPools entry of the model names an existing pool. */
function checkBackendPools(s: Services, profile: Record<string, unknown>, vmssId: string): void {
  const network = (profile.networkProfile ?? {}) as { networkInterfaceConfigurations?: Array<{ properties?: Record<string, unknown> }> };
  for (const nic of network.networkInterfaceConfigurations ?? []) {
    for (const ip of (nic.properties?.ipConfigurations as Array<{ properties?: Record<string, unknown> }> | undefined) ?? []) {
      for (const ref of (ip.properties?.loadBalancerBackendAddressPools as Array<{ id?: unknown }> | undefined) ?? []) {
        const poolId = str(ref?.id);
        const lb = s.store.get(poolId.split('/').slice(0, -2).join('/'));
        const found =
          lb?.type === LOAD_BALANCER_TYPE && children(lb, 'backendAddressPools').some((p) => p.id.toLowerCase() === poolId.toLowerCase());
        if (!found) {
          throw new CloudError(
            400,
            'InvalidResourceReference',
            `Resource ${poolId} referenced by resource ${vmssId} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
          );
        }
      }
    }
  }
}

/** The scale set whose model places a NIC in this subnet, for the network's in-use checks. */
export function subnetUser(s: Services, subnetId: string): string | undefined {
  const want = subnetId.toLowerCase();
  return Object.values(s.store.state.resources).find(
    (r) => r.type === VMSS_TYPE && nicConfigs(r).some((n) => n.ipConfigs.some((ip) => ip.subnetId?.toLowerCase() === want)),
  )?.id;
}
