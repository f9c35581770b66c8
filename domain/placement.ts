// Where each Consul server runs. Servers go round-robin over three availability zones so
// that losing one zone never takes a quorum: 3 servers span 3 zones, 5 servers put at most
// two in a zone. Index-based placement keeps existing servers where they are when scaling.

export const ZONES = [1, 2, 3] as const;
export type AvailabilityZone = (typeof ZONES)[number];

export const SERVER_COUNTS = [1, 3, 5] as const;
export type ServerCount = (typeof SERVER_COUNTS)[number];

export interface ServerPlacement {
  index: number;
  name: string;
  zone: AvailabilityZone;
}

export interface ScalePlan {
  /** Servers to create, lowest index first. */
  add: ServerPlacement[];
  /**
   * Servers to remove, highest index first: removing from the end keeps the survivors'
   * names and zones unchanged and leaves the round-robin spread intact.
   */
  remove: ServerPlacement[];
}

export function isServerCount(value: unknown): value is ServerCount {
  return (SERVER_COUNTS as readonly unknown[]).includes(value);
}

export function zoneForServer(index: number): AvailabilityZone {
  assertIndex(index);
  return ZONES[index % ZONES.length] as AvailabilityZone;
}

export function serverName(clusterName: string, index: number): string {
  assertIndex(index);
  return `${clusterName}-server-${index}`;
}

export function placeServer(clusterName: string, index: number): ServerPlacement {
  return { index, name: serverName(clusterName, index), zone: zoneForServer(index) };
}

export function placeServers(clusterName: string, serverCount: number): ServerPlacement[] {
  assertCount(serverCount);
  return Array.from({ length: serverCount }, (_, index) => placeServer(clusterName, index));
}

export function planScale(clusterName: string, fromCount: number, toCount: number): ScalePlan {
  assertCount(fromCount);
  assertCount(toCount);
  const add: ServerPlacement[] = [];
  const remove: ServerPlacement[] = [];
  for (let index = fromCount; index < toCount; index += 1) add.push(placeServer(clusterName, index));
  for (let index = fromCount - 1; index >= toCount; index -= 1) remove.push(placeServer(clusterName, index));
  return { add, remove };
}

function assertIndex(index: number): void {
  if (!Number.isInteger(index) || index < 0) {
    throw new RangeError(`server index must be a non-negative integer; got ${index}`);
  }
}

function assertCount(count: number): void {
  if (!isServerCount(count)) throw new RangeError(`serverCount must be 1, 3 or 5; got ${count}`);
}
