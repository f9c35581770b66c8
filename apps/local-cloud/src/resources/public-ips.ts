// Microsoft.Network/publicIPAddresses: Standard, regional, static IPv4 addresses. The address is
// allocated when the resource is created and kept for its life, from a loopback pool of its own:
// 127.B.x.y with B (64..127) chosen at random per twin state, so it never meets an instance's
// 127.0.x.y and rarely another twin's pool. Load balancer frontends bind to it. Writes are
// asynchronous as in the network provider; a public IP that a frontend still uses cannot be deleted.
import { randomInt, randomUUID } from 'node:crypto';
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
import type { CloudState, ResourceRecord } from '../state.js';
import { NETWORK_DELETE, NETWORK_PUT } from './nested.js';
import { accepted, acceptedPut } from './replies.js';

export const PUBLIC_IP_TYPE = 'Microsoft.Network/publicIPAddresses';
const ZONES = ['1', '2', '3'];

export interface PublicIpOptions {
  /** The id of what uses the public IP (a load balancer frontend), if anything. */
  usedBy(publicIpId: string): string | undefined;
}

export function publicIpHandler(s: Services, o: PublicIpOptions): TypeHandler {
  const view = (r: ResourceRecord): ResourceView => {
    const user = o.usedBy(r.id);
    return { ...r, properties: { ...r.properties, ...(user ? { ipConfiguration: { id: user } } : {}) } };
  };
  return {
    type: PUBLIC_IP_TYPE,
    read: (id) => {
      const r = s.store.get(id);
      return r?.type === PUBLIC_IP_TYPE ? view(r) : undefined;
    },
    list: (scope) => s.store.under(scope, PUBLIC_IP_TYPE).map(view),
    put: async (ref, id, ctx) => {
      const existing = s.store.get(id);
      refuseWhileBusy(existing);
      checkPreconditions(ctx, existing);
      const body = bodyObject(ctx);
      const name = ref.names[0]!;
      const location = checkLocation(body, existing, name);
      const tags = checkTags(body);
      const sku = checkSku(objectField(body, 'sku'));
      const zones = checkZones(body.zones, existing, name);
      const props = checkProperties(id, objectField(body, 'properties'));
      const record: ResourceRecord = {
        id,
        name,
        type: PUBLIC_IP_TYPE,
        location,
        ...(tags ? { tags } : {}),
        ...(zones ? { zones } : {}),
        sku,
        etag: newEtag(),
        properties: {
          ...props,
          resourceGuid: existing?.properties.resourceGuid ?? randomUUID(),
          ipAddress: existing?.properties.ipAddress ?? allocatePublicIp(s.store.state),
          provisioningState: 'Updating',
        },
      };
      s.store.put(record);
      return acceptedPut(s, ctx, view(record), !existing, { kind: NETWORK_PUT, namespace: 'Microsoft.Network', resourceId: id, location });
    },
    delete: async (_ref, id, ctx) => {
      const existing = s.store.get(id);
      if (!existing) return { status: 204 };
      const user = o.usedBy(id);
      if (user) {
        throw badRequest(
          'PublicIPAddressInUseCannotBeDeleted',
          `Public IP address ${existing.id} can not be deleted since it is still allocated to resource ${user}. In order to delete the public IP, disassociate/detach the Public IP address from the resource.`,
        );
      }
      existing.properties.provisioningState = 'Deleting';
      s.store.save();
      return accepted(s, ctx, { kind: NETWORK_DELETE, namespace: 'Microsoft.Network', resourceId: id, location: existing.location ?? '' });
    },
  };
}

function checkSku(sku: Record<string, unknown>): Record<string, unknown> {
  const name = str(sku.name) || 'Standard';
  const tier = str(sku.tier) || 'Regional';
  if (name.toLowerCase() !== 'standard') {
    throw badRequest('InvalidParameter', `Public IP SKU '${name}' is not served: this cloud has Standard public IPs only.`, 'sku.name');
  }
  if (tier.toLowerCase() !== 'regional') {
    throw badRequest(
      'InvalidParameter',
      `Public IP SKU tier '${tier}' is not served: this cloud has Regional public IPs only.`,
      'sku.tier',
    );
  }
  return { name: 'Standard', tier: 'Regional' };
}

function checkZones(raw: unknown, existing: ResourceRecord | undefined, name: string): string[] | undefined {
  if (raw === undefined || raw === null) return existing?.zones;
  if (!Array.isArray(raw) || raw.some((z) => !ZONES.includes(String(z))) || new Set(raw.map(String)).size !== raw.length) {
    throw badRequest('InvalidParameter', `zones must list distinct zones out of 1, 2, 3; got ${JSON.stringify(raw)}.`, 'zones');
  }
  const zones = raw.map(String).sort();
  if (existing && JSON.stringify([...(existing.zones ?? [])].sort()) !== JSON.stringify(zones)) {
    throw badRequest(
      'ResourceAvailabilityZonesCannotBeModified',
      `Resource ${name} has an existing availability zone constraint ${JSON.stringify(existing.zones ?? [])} and the request has availability zone constraint ${JSON.stringify(zones)}, which do not match. Zones cannot be added/updated/removed once the resource is created.`,
    );
  }
  return zones;
}

function checkProperties(id: string, props: Record<string, unknown>): Record<string, unknown> {
  const allocation = str(props.publicIPAllocationMethod) || 'Static';
  if (allocation.toLowerCase() !== 'static') {
    throw badRequest(
      'StandardSkuPublicIPAddressesMustBeStatic',
      `Standard sku publicIp ${id} must have AllocationMethod set to Static.`,
      'properties.publicIPAllocationMethod',
    );
  }
  const version = str(props.publicIPAddressVersion) || 'IPv4';
  if (version.toLowerCase() !== 'ipv4') {
    throw badRequest(
      'InvalidParameter',
      `Public IP address version '${version}' is not served: IPv4 only.`,
      'properties.publicIPAddressVersion',
    );
  }
  const idle = props.idleTimeoutInMinutes ?? 4;
  if (typeof idle !== 'number' || !Number.isInteger(idle) || idle < 4 || idle > 30) {
    throw badRequest(
      'PublicIPIdleTimeoutIsOutOfRange',
      `The idle timeout of public IP ${id} is ${JSON.stringify(idle)}: it must be between 4 and 30 minutes.`,
      'properties.idleTimeoutInMinutes',
    );
  }
  if (props.publicIPPrefix !== undefined) {
    throw badRequest('InvalidParameter', 'Public IP prefixes are not served by this cloud.', 'properties.publicIPPrefix');
  }
  // Read-only properties a client may echo back are not taken from the request.
  const { ipAddress: _a, ipConfiguration: _c, provisioningState: _p, resourceGuid: _g, ...rest } = props;
  return { ipTags: [], ...rest, publicIPAllocationMethod: 'Static', publicIPAddressVersion: 'IPv4', idleTimeoutInMinutes: idle };
}

/**
 * The next free public address, 127.B.x.y (y 1..254), searched round-robin from the cursor, so a
 * released address is handed out again only after every other one was.
 */
function allocatePublicIp(state: CloudState): string {
  state.publicIpBlock ??= randomInt(64, 128);
  const used = new Set(
    Object.values(state.resources)
      .filter((r) => r.type === PUBLIC_IP_TYPE)
      .map((r) => str(r.properties.ipAddress)),
  );
  const total = 256 * 254;
  const cursor = state.publicIpCursor ?? 0;
  for (let k = 0; k < total; k++) {
    const n = (cursor + k) % total;
    const ip = `127.${state.publicIpBlock}.${Math.floor(n / 254)}.${(n % 254) + 1}`;
    if (used.has(ip)) continue;
    state.publicIpCursor = n + 1;
    return ip;
  }
  throw new CloudError(409, 'PublicIPCountLimitReached', 'No address is left in the public IP pool.');
}
