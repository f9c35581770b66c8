// How scale-set instances look through ARM: the VM resource, its instance view (provisioning and
// power state, plus the zone) and its network interface carrying the instance's private IP (as
// the network provider lists a scale set's NICs in Azure).
import type { InstanceRecord, ResourceRecord, ScaleSetInternal } from '../state.js';

export const VMSS_TYPE = 'Microsoft.Compute/virtualMachineScaleSets';
export const VM_TYPE = 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines';

type Power = 'running' | 'starting' | 'stopped';

export function vmId(vmss: ResourceRecord, inst: InstanceRecord): string {
  return `${vmss.id}/virtualMachines/${inst.instanceId}`;
}

export function vmView(
  vmss: ResourceRecord,
  internal: ScaleSetInternal,
  inst: InstanceRecord,
  power: Power,
  expand: boolean,
): Record<string, unknown> {
  const profile = (vmss.properties.virtualMachineProfile ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const { capacity: _c, ...sku } = vmss.sku ?? {};
  const { customData: _d, adminPassword: _p, computerNamePrefix: _n, ...os } = profile.osProfile ?? {};
  const id = vmId(vmss, inst);
  return {
    id,
    name: inst.name,
    type: VM_TYPE,
    location: vmss.location,
    ...(vmss.tags ? { tags: vmss.tags } : {}),
    instanceId: inst.instanceId,
    sku,
    ...(inst.zone ? { zones: [inst.zone] } : {}),
    ...(vmss.identity ? { identity: vmss.identity } : {}),
    properties: {
      latestModelApplied: inst.modelVersion >= internal.modelVersion,
      vmId: inst.vmId,
      provisioningState: inst.provisioningState,
      timeCreated: inst.createdAt,
      hardwareProfile: { vmSize: sku.name },
      osProfile: { ...os, computerName: inst.computerName },
      ...(profile.storageProfile ? { storageProfile: profile.storageProfile } : {}),
      networkProfile: { networkInterfaces: nicConfigs(vmss).map((c) => ({ id: `${id}/networkInterfaces/${c.name}` })) },
      ...(profile.networkProfile ? { networkProfileConfiguration: profile.networkProfile } : {}),
      ...(expand ? { instanceView: instanceView(inst, power) } : {}),
    },
  };
}

export function instanceView(inst: InstanceRecord, power: Power): Record<string, unknown> {
  const time = new Date().toISOString();
  const powerStatus = {
    running: { code: 'PowerState/running', displayStatus: 'VM running' },
    starting: { code: 'PowerState/starting', displayStatus: 'VM starting' },
    stopped: { code: 'PowerState/stopped', displayStatus: 'VM stopped' },
  }[power];
  const ps = inst.provisioningState.toLowerCase();
  return {
    platformUpdateDomain: 0,
    platformFaultDomain: 0,
    computerName: inst.computerName,
    osName: 'linux',
    // Not in Azure's instance view (the VM resource carries `zones`); handy for raw HTTP callers.
    zone: inst.zone ?? null,
    statuses: [
      {
        code: `ProvisioningState/${ps}`,
        level: ps === 'failed' ? 'Error' : 'Info',
        displayStatus: `Provisioning ${ps === 'succeeded' ? 'succeeded' : ps === 'failed' ? 'failed' : 'in progress'}`,
        time,
      },
      { ...powerStatus, level: 'Info' },
    ],
  };
}

/** The scale set's instance view: counts per status, as Azure summarises them. */
export function scaleSetInstanceView(instances: Array<{ inst: InstanceRecord; power: Power }>): Record<string, unknown> {
  const counts = new Map<string, number>();
  for (const { inst, power } of instances) {
    for (const code of [`ProvisioningState/${inst.provisioningState.toLowerCase()}`, `PowerState/${power}`]) {
      counts.set(code, (counts.get(code) ?? 0) + 1);
    }
  }
  return {
    virtualMachine: { statusesSummary: [...counts].map(([code, count]) => ({ code, count })) },
    statuses: [{ code: 'ProvisioningState/succeeded', level: 'Info', displayStatus: 'Provisioning succeeded' }],
  };
}

export function nicViews(vmss: ResourceRecord, inst: InstanceRecord): Record<string, unknown>[] {
  const vm = vmId(vmss, inst);
  return nicConfigs(vmss).map((c, n) => {
    const nicId = `${vm}/networkInterfaces/${c.name}`;
    return {
      id: nicId,
      name: c.name,
      type: 'Microsoft.Network/networkInterfaces',
      location: vmss.location,
      properties: {
        provisioningState: 'Succeeded',
        primary: n === 0,
        macAddress: macFor(inst.privateIp, n),
        virtualMachine: { id: vm },
        ipConfigurations: c.ipConfigs.map((ip, k) => ({
          id: `${nicId}/ipConfigurations/${ip.name}`,
          name: ip.name,
          properties: {
            provisioningState: 'Succeeded',
            // One loopback address per instance: its primary IP configuration carries it.
            privateIPAddress: n === 0 && k === 0 ? inst.privateIp : undefined,
            privateIPAllocationMethod: 'Dynamic',
            privateIPAddressVersion: 'IPv4',
            primary: k === 0,
            ...(ip.subnetId ? { subnet: { id: ip.subnetId } } : {}),
          },
        })),
      },
    };
  });
}

interface NicConfig {
  name: string;
  ipConfigs: Array<{ name: string; subnetId?: string }>;
}

/** The scale set model's NIC configurations (a default one when the model names none). */
export function nicConfigs(vmss: ResourceRecord): NicConfig[] {
  const profile = (vmss.properties.virtualMachineProfile ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const raw = (profile.networkProfile?.networkInterfaceConfigurations as Array<Record<string, unknown>> | undefined) ?? [];
  const configs = raw.map((c, i) => {
    const props = (c.properties ?? {}) as Record<string, unknown>;
    const ips = (props.ipConfigurations as Array<Record<string, unknown>> | undefined) ?? [];
    return {
      name: typeof c.name === 'string' ? c.name : `nic${i}`,
      ipConfigs: ips.map((ip, k) => {
        const subnet = ((ip.properties ?? {}) as Record<string, { id?: string } | undefined>).subnet?.id;
        return { name: typeof ip.name === 'string' ? ip.name : `ipconfig${k}`, ...(subnet ? { subnetId: subnet } : {}) };
      }),
    };
  });
  return configs.length ? configs : [{ name: 'nic0', ipConfigs: [{ name: 'ipconfig1' }] }];
}

function macFor(ip: string, n: number): string {
  const [, , x = '0', y = '0'] = ip.split('.');
  return ['00', '0D', '3A', hex(Number(x)), hex(Number(y)), hex(n)].join('-');
}

function hex(v: number): string {
  return v.toString(16).toUpperCase().padStart(2, '0');
}
