// What a scale set's model means on this machine: one process per instance, each with its own
// loopback address (Linux routes all of 127.0.0.0/8 to lo, so binding 127.0.X.Y needs no set-up),
// its own folder whose `disk` reimage wipes, its customData as a 0600 file and an identity
// endpoint secret. Instances are created and removed to match sku.capacity, spread over zones.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudError } from '../errors.js';
import type { InstanceRecord, ResourceRecord, ScaleSetInternal, StateStore } from '../state.js';
import type { Fleet } from './fleet.js';
import type { InstanceSpec } from './runner.js';

export interface ComputeRuntimeOptions {
  store: StateStore;
  fleet: Fleet;
  dataDir: string;
  caFile: string;
  /** CA bundle instances trust (the twin's CA plus what the twin itself was told to trust). */
  trustFile?: string;
  /** The twin's base URL (known once it listens). */
  cloudUrl: () => string;
  onEvent: (message: string) => void;
}

export type InstanceAction = 'restart' | 'reimage' | 'reimageall' | 'delete' | 'start' | 'poweroff' | 'deallocate';

export class ComputeRuntime {
  /** IDENTITY_HEADER secret -> scale set id: the managed-identity endpoint's view of who asks. */
  readonly identityHeaders = new Map<string, string>();
  readonly #headerOf = new Map<string, string>();

  constructor(private readonly o: ComputeRuntimeOptions) {}

  key(vmssId: string, instanceId: string): string {
    return `${vmssId.toLowerCase()}#${instanceId}`;
  }

  powerState(vmssId: string, inst: InstanceRecord): 'running' | 'starting' | 'stopped' {
    if (inst.power === 'stopped') return 'stopped';
    return this.o.fleet.state(this.key(vmssId, inst.instanceId));
  }

  /** Brings the instances in line with sku.capacity and makes every powered-on one run. */
  async reconcile(vmssId: string): Promise<void> {
    const { vmss, internal } = this.#get(vmssId);
    const capacity = Number((vmss.sku ?? {}).capacity ?? 0);
    while (internal.instances.length < capacity) internal.instances.push(this.#newInstance(vmss, internal));
    const extra = internal.instances.length - capacity;
    if (extra > 0) {
      for (const victim of scaleInVictims(internal.instances, extra)) await this.#destroy(vmss.id, internal, victim);
    }
    this.o.store.save();
    await this.#runAll(vmss, internal.instances);
  }

  /** After a twin restart: every instance recorded as powered on runs again. */
  async startAll(): Promise<void> {
    const sets = Object.values(this.o.store.state.resources).filter(
      (r) => r.type === 'Microsoft.Compute/virtualMachineScaleSets' && r.properties.provisioningState !== 'Deleting',
    );
    await Promise.allSettled(
      sets.map(async (vmss) => {
        const internal = this.o.store.scaleSet(vmss.id);
        if (internal) await this.#runAll(vmss, internal.instances);
      }),
    );
  }

  async act(vmssId: string, action: InstanceAction, instanceIds: string[]): Promise<void> {
    const { vmss, internal } = this.#get(vmssId);
    const targets = internal.instances.filter((i) => instanceIds.includes(i.instanceId));
    await Promise.all(
      targets.map(async (inst) => {
        const key = this.key(vmss.id, inst.instanceId);
        switch (action) {
          case 'restart':
            await this.o.fleet.halt(key);
            inst.power = 'running';
            return this.#runAll(vmss, [inst]);
          case 'reimage':
          case 'reimageall':
            // A fresh disk on a healthy host: a broken instance (test-only fault) works again.
            this.o.fleet.mend(key);
            inst.provisioningState = 'Updating';
            this.o.store.save();
            await this.o.fleet.halt(key);
            rmSync(this.#dirs(vmss.id, inst).diskDir, { recursive: true, force: true });
            inst.modelVersion = internal.modelVersion;
            inst.customData = internal.customData;
            inst.power = 'running';
            return this.#runAll(vmss, [inst]);
          case 'start':
            inst.power = 'running';
            return this.#runAll(vmss, [inst]);
          case 'poweroff':
          case 'deallocate':
            inst.power = 'stopped';
            this.o.store.save();
            return this.o.fleet.halt(key);
          case 'delete':
            this.o.fleet.mend(key);
            return this.#destroy(vmss.id, internal, inst);
        }
      }),
    );
    if (action === 'delete') {
      // Deleting instances lowers the capacity, as in Azure.
      vmss.sku = { ...vmss.sku, capacity: internal.instances.length };
    }
    this.o.store.save();
  }

  /** Test-only fault (instance-faults.ts): the instance's process dies and its restarts are refused until a reimage. */
  async breakInstance(vmssId: string, instanceId: string): Promise<void> {
    const { internal } = this.#get(vmssId);
    if (!internal.instances.some((i) => i.instanceId === instanceId))
      throw new CloudError(404, 'ResourceNotFound', `The scale set ${vmssId} has no instance ${instanceId}.`);
    await this.o.fleet.breakInstance(this.key(vmssId, instanceId));
  }

  /** Stops and wipes every instance of a scale set that is being deleted. */
  async removeScaleSet(vmssId: string): Promise<void> {
    const internal = this.o.store.scaleSet(vmssId);
    for (const inst of [...(internal?.instances ?? [])]) await this.#destroy(vmssId, internal!, inst);
    rmSync(this.#setDir(vmssId), { recursive: true, force: true });
  }

  async #runAll(vmss: ResourceRecord, instances: InstanceRecord[]): Promise<void> {
    const failures: string[] = [];
    await Promise.all(
      instances
        .filter((i) => i.power === 'running')
        .map(async (inst) => {
          try {
            await this.o.fleet.run(this.key(vmss.id, inst.instanceId), () => this.#spec(vmss, inst));
            if (inst.provisioningState !== 'Deleting') inst.provisioningState = 'Succeeded';
          } catch (err) {
            inst.provisioningState = 'Failed';
            failures.push(`${inst.name}: ${err instanceof Error ? err.message : String(err)}`);
          }
        }),
    );
    this.o.store.save();
    if (failures.length) {
      throw new CloudError(500, 'OSProvisioningClientError', `Instances did not start: ${failures.join('; ')}`);
    }
  }

  async #destroy(vmssId: string, internal: ScaleSetInternal, inst: InstanceRecord): Promise<void> {
    inst.provisioningState = 'Deleting';
    const key = this.key(vmssId, inst.instanceId);
    await this.o.fleet.remove(key);
    this.#forgetHeader(key);
    rmSync(this.#dirs(vmssId, inst).dir, { recursive: true, force: true });
    internal.instances = internal.instances.filter((i) => i !== inst);
    this.o.store.save();
  }

  #newInstance(vmss: ResourceRecord, internal: ScaleSetInternal): InstanceRecord {
    const instanceId = String(internal.nextInstanceId++);
    const profile = ((vmss.properties.virtualMachineProfile ?? {}) as Record<string, Record<string, unknown>>).osProfile ?? {};
    const prefix = typeof profile.computerNamePrefix === 'string' ? profile.computerNamePrefix : vmss.name;
    const zone = pickZone(vmss.zones ?? [], internal.instances);
    return {
      instanceId,
      vmId: randomUUID(),
      name: `${vmss.name}_${instanceId}`,
      computerName: `${prefix}${Number(instanceId).toString(36).padStart(6, '0')}`,
      ...(zone ? { zone } : {}),
      privateIp: this.#allocateIp(),
      modelVersion: internal.modelVersion,
      ...(internal.customData ? { customData: internal.customData } : {}),
      power: 'running',
      provisioningState: 'Creating',
      createdAt: new Date().toISOString(),
    };
  }

  // Addresses are unique within this twin's state, starting in its random block of 127.0.X.0/24
  // and going round: a freed address comes back only after every other one was used.
  #allocateIp(): string {
    const state = this.o.store.state;
    const used = new Set(Object.values(state.scaleSets).flatMap((s) => s.instances.map((i) => i.privateIp)));
    const perBlock = 253;
    const total = 254 * perBlock;
    const cursor = state.addressCursor ?? 0;
    for (let k = 0; k < total; k++) {
      const n = (cursor + k) % total;
      const x = ((state.loopbackBlock - 1 + Math.floor(n / perBlock)) % 254) + 1;
      const ip = `127.0.${x}.${(n % perBlock) + 2}`;
      if (used.has(ip)) continue;
      state.addressCursor = n + 1;
      return ip;
    }
    throw new CloudError(409, 'AllocationFailed', 'No loopback address is left for a new instance.');
  }

  #spec(vmss: ResourceRecord, inst: InstanceRecord): InstanceSpec {
    const { dir, diskDir } = this.#dirs(vmss.id, inst);
    mkdirSync(diskDir, { recursive: true, mode: 0o700 });
    const customData = inst.customData ? Buffer.from(inst.customData, 'base64') : undefined;
    const customDataFile = join(dir, 'custom-data');
    writeFileSync(customDataFile, customData ?? '', { mode: 0o600 });
    const key = this.key(vmss.id, inst.instanceId);
    this.#forgetHeader(key);
    const header = randomBytes(24).toString('base64url');
    this.identityHeaders.set(header, vmss.id.toLowerCase());
    this.#headerOf.set(key, header);
    const url = this.o.cloudUrl();
    return {
      vmssId: vmss.id,
      instanceId: inst.instanceId,
      vmName: inst.name,
      name: inst.computerName,
      ...(inst.zone ? { zone: inst.zone } : {}),
      privateIp: inst.privateIp,
      ...(customData ? { customData } : {}),
      dir,
      diskDir,
      env: {
        HCS_INSTANCE_NAME: inst.computerName,
        HCS_INSTANCE_ID: inst.instanceId,
        HCS_VM_NAME: inst.name,
        HCS_VMSS_ID: vmss.id,
        HCS_INSTANCE_ZONE: inst.zone ?? '',
        HCS_INSTANCE_IP: inst.privateIp,
        HCS_INSTANCE_LOCATION: vmss.location ?? '',
        HCS_INSTANCE_DISK: diskDir,
        HCS_CUSTOM_DATA_FILE: customDataFile,
        HCS_CLOUD_URL: url,
        HCS_CLOUD_CA_FILE: this.o.caFile,
        // Node programs on the VM (host-manager) trust the twin the way a VM trusts Azure's CAs.
        NODE_EXTRA_CA_CERTS: this.o.trustFile ?? this.o.caFile,
        IDENTITY_ENDPOINT: `${url}/msi/token`,
        IDENTITY_HEADER: header,
      },
    };
  }

  #forgetHeader(key: string): void {
    const old = this.#headerOf.get(key);
    if (old) this.identityHeaders.delete(old);
    this.#headerOf.delete(key);
  }

  #setDir(vmssId: string): string {
    const hash = createHash('sha256').update(vmssId.toLowerCase()).digest('hex').slice(0, 10);
    const name = vmssId
      .split('/')
      .pop()!
      .replace(/[^\w.-]/g, '_');
    return join(this.o.dataDir, 'instances', `${name}-${hash}`);
  }

  #dirs(vmssId: string, inst: InstanceRecord): { dir: string; diskDir: string } {
    const dir = join(this.#setDir(vmssId), inst.instanceId);
    return { dir, diskDir: join(dir, 'disk') };
  }

  #get(vmssId: string): { vmss: ResourceRecord; internal: ScaleSetInternal } {
    const vmss = this.o.store.get(vmssId);
    const internal = this.o.store.scaleSet(vmssId);
    if (!vmss || !internal) throw new CloudError(404, 'ResourceNotFound', `The scale set ${vmssId} no longer exists.`);
    return { vmss, internal };
  }
}

/** New instances go to the zone with the fewest instances (ties: the zone listed first). */
function pickZone(zones: string[], instances: InstanceRecord[]): string | undefined {
  let best: string | undefined;
  let bestCount = Infinity;
  for (const z of zones) {
    const n = instances.filter((i) => i.zone === z).length;
    if (n < bestCount) [best, bestCount] = [z, n];
  }
  return best;
}

/** Azure's default scale-in: keep zones balanced, then remove the highest instance ids. */
function scaleInVictims(instances: InstanceRecord[], count: number): InstanceRecord[] {
  const left = [...instances];
  const victims: InstanceRecord[] = [];
  for (let k = 0; k < count; k++) {
    const byZone = new Map<string, InstanceRecord[]>();
    for (const i of left) byZone.set(i.zone ?? '', [...(byZone.get(i.zone ?? '') ?? []), i]);
    const fullest = [...byZone.values()].sort((a, b) => b.length - a.length)[0]!;
    const victim = fullest.sort((a, b) => Number(b.instanceId) - Number(a.instanceId))[0]!;
    victims.push(victim);
    left.splice(left.indexOf(victim), 1);
  }
  return victims;
}
