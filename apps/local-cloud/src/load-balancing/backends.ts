// Who is in a load balancer's backend pool, read live from the twin's state on every probe round
// and connection: the pool's explicit addresses (loadBalancerBackendAddresses[].properties.ipAddress)
// and every instance of each scale set whose model lists the pool in an IP configuration's
// loadBalancerBackendAddressPools. An instance replaced by a new one (new address) is picked up at
// once, as Azure adds a scale set's new NICs to the pool.
import type { StateStore } from '../state.js';

export const LOAD_BALANCER_TYPE = 'Microsoft.Network/loadBalancers';
const SCALE_SET_TYPE = 'Microsoft.Compute/virtualMachineScaleSets';

export interface Backend {
  ipAddress: string;
  /** The scale-set instance's NIC IP configuration, for members that come from a scale set. */
  ipConfigurationId?: string;
}

type Json = Record<string, unknown>;
const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]).filter((x) => x && typeof x === 'object') : []);
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});

/** The pool's members, explicit addresses first, each address once. */
export function poolMembers(store: StateStore, poolId: string): Backend[] {
  const want = poolId.toLowerCase();
  const lbId = poolId.split('/').slice(0, -2).join('/');
  const lb = store.get(lbId);
  const out: Backend[] = [];
  const seen = new Set<string>();
  const add = (b: Backend) => {
    if (!b.ipAddress || seen.has(b.ipAddress)) return;
    seen.add(b.ipAddress);
    out.push(b);
  };
  if (lb?.type === LOAD_BALANCER_TYPE) {
    const pool = arr(lb.properties.backendAddressPools).find((p) => String(p.id).toLowerCase() === want);
    for (const a of arr(obj(pool?.properties).loadBalancerBackendAddresses)) {
      const ip = obj(a.properties).ipAddress;
      if (typeof ip === 'string') add({ ipAddress: ip });
    }
  }
  for (const vmss of Object.values(store.state.resources)) {
    if (vmss.type !== SCALE_SET_TYPE || vmss.properties.provisioningState === 'Deleting') continue;
    const config = poolIpConfiguration(vmss.properties, want);
    if (!config) continue;
    for (const inst of store.scaleSet(vmss.id)?.instances ?? []) {
      if (inst.provisioningState === 'Deleting') continue;
      add({
        ipAddress: inst.privateIp,
        ipConfigurationId: `${vmss.id}/virtualMachines/${inst.instanceId}/networkInterfaces/${config.nic}/ipConfigurations/${config.ip}`,
      });
    }
  }
  return out;
}

/** The NIC and IP configuration names of a scale set model that put its instances in the pool. */
function poolIpConfiguration(props: Json, poolId: string): { nic: string; ip: string } | undefined {
  const network = obj(obj(props.virtualMachineProfile).networkProfile);
  for (const [n, nic] of arr(network.networkInterfaceConfigurations).entries()) {
    for (const [k, ip] of arr(obj(nic.properties).ipConfigurations).entries()) {
      const pools = arr(obj(ip.properties).loadBalancerBackendAddressPools);
      if (pools.some((p) => String(p.id).toLowerCase() === poolId)) {
        return { nic: typeof nic.name === 'string' ? nic.name : `nic${n}`, ip: typeof ip.name === 'string' ? ip.name : `ipconfig${k}` };
      }
    }
  }
  return undefined;
}

/** The scale sets whose model names this pool (for the pool's read-only backendIPConfigurations). */
export function poolIpConfigurationIds(store: StateStore, poolId: string): string[] {
  return poolMembers(store, poolId).flatMap((b) => (b.ipConfigurationId ? [b.ipConfigurationId] : []));
}
