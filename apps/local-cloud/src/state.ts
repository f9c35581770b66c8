// The twin's whole state as one JSON document in dataDir, rewritten atomically (temp file, fsync,
// rename) after every change, so a crash or a restart finds either the old or the new state,
// never half of one. The twin's state is small (tens of resources), so rewriting it is cheap.
import { randomInt, randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface SystemData {
  createdBy: string;
  createdByType: string;
  createdAt: string;
  lastModifiedBy: string;
  lastModifiedByType: string;
  lastModifiedAt: string;
}

/** A resource as ARM returns it; `properties.provisioningState` carries asynchronous progress. */
export interface ResourceRecord {
  id: string;
  name: string;
  type: string;
  location?: string;
  tags?: Record<string, string>;
  zones?: string[];
  sku?: Record<string, unknown>;
  identity?: Record<string, unknown>;
  managedBy?: string;
  properties: Record<string, unknown>;
  etag?: string;
  systemData?: SystemData;
}

export type PowerState = 'running' | 'stopped';

export interface InstanceRecord {
  instanceId: string;
  vmId: string;
  /** `{scaleSetName}_{instanceId}`, as Azure names Uniform scale-set VMs. */
  name: string;
  computerName: string;
  zone?: string;
  /** The instance's own loopback address, 127.0.X.Y. */
  privateIp: string;
  /** Scale-set model version the instance runs; older than the set's means latestModelApplied=false. */
  modelVersion: number;
  /** customData (base64) of the model the instance was created or last reimaged with. */
  customData?: string;
  power: PowerState;
  provisioningState: string;
  createdAt: string;
}

/** What a scale set keeps beyond its ARM view: write-only input and its instances. */
export interface ScaleSetInternal {
  /** customData as sent (base64); Azure never returns it, instances receive it decoded. */
  customData?: string;
  modelVersion: number;
  nextInstanceId: number;
  instances: InstanceRecord[];
}

export type OperationStatus = 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';

export interface OperationRecord {
  id: string;
  subscriptionId: string;
  namespace: string;
  location: string;
  /** Names the handler that finishes the work; re-run after a twin restart while InProgress. */
  kind: string;
  resourceId: string;
  params?: Record<string, unknown>;
  status: OperationStatus;
  startTime: string;
  endTime?: string;
  error?: { code: string; message: string };
  /** Object id of the principal that started it: only it (or the control plane) may read it. */
  startedBy: string;
}

export interface CloudState {
  version: 1;
  tenantId: string;
  /** The subscription reported to callers; any well-formed subscription id is served. */
  subscriptionId: string;
  servicePrincipal: { clientId: string; objectId: string };
  /** Third octet where instance addresses start (127.0.X.Y): random per state, so two twins rarely collide. */
  loopbackBlock: number;
  /**
   * How many addresses have been handed out: the next one is searched from here, so an address
   * freed by a deleted instance is not given to the next instance right away (a new server must
   * not answer where a deleted one did while anything may still look for that one).
   */
  addressCursor?: number;
  /**
   * Second octet of the public IP pool (127.B.x.y, B from 64 to 127): random per state, like
   * loopbackBlock. Instances live in 127.0.0.0/16, so a public address can never be an instance's.
   */
  publicIpBlock?: number;
  /** How many public addresses have been handed out (round-robin, as addressCursor). */
  publicIpCursor?: number;
  /** Keyed by the lower-cased resource id. */
  resources: Record<string, ResourceRecord>;
  scaleSets: Record<string, ScaleSetInternal>;
  operations: Record<string, OperationRecord>;
}

export class StateStore {
  readonly state: CloudState;

  constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.state = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as CloudState) : freshState();
    this.save();
  }

  get(id: string): ResourceRecord | undefined {
    return this.state.resources[id.toLowerCase()];
  }

  put(record: ResourceRecord): void {
    this.state.resources[record.id.toLowerCase()] = record;
    this.save();
  }

  delete(id: string): void {
    delete this.state.resources[id.toLowerCase()];
    delete this.state.scaleSets[id.toLowerCase()];
    this.save();
  }

  /** Resources whose id lies under `prefix` (the prefix itself excluded), optionally of one type. */
  under(prefix: string, type?: string): ResourceRecord[] {
    const p = `${prefix.toLowerCase()}/`;
    return Object.entries(this.state.resources)
      .filter(([k, r]) => k.startsWith(p) && (type === undefined || r.type.toLowerCase() === type.toLowerCase()))
      .map(([, r]) => r);
  }

  scaleSet(id: string): ScaleSetInternal | undefined {
    return this.state.scaleSets[id.toLowerCase()];
  }

  setScaleSet(id: string, internal: ScaleSetInternal): void {
    this.state.scaleSets[id.toLowerCase()] = internal;
    this.save();
  }

  /** Writes the state file atomically; call after changing records in place. */
  save(): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(this.state, null, 1));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}

function freshState(): CloudState {
  return {
    version: 1,
    tenantId: randomUUID(),
    subscriptionId: randomUUID(),
    servicePrincipal: { clientId: randomUUID(), objectId: randomUUID() },
    loopbackBlock: randomInt(16, 240),
    publicIpBlock: randomInt(64, 128),
    resources: {},
    scaleSets: {},
    operations: {},
  };
}
