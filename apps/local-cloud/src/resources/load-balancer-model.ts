// What a Standard load balancer's body may say, checked as Azure checks it before anything is
// written: public frontends on existing Standard public IPs (one load balancer per IP), backend
// pools (explicit IPv4 addresses, or scale-set NICs that name the pool), TCP probes, and TCP
// load-balancing rules whose frontend, pool and probe references are this load balancer's own
// sub-resources, with ids formed as Azure forms them (`{lb}/backendAddressPools/{name}`, ...).
import { badRequest } from '../errors.js';
import { str } from '../json-text.js';
import type { ResourceRecord } from '../state.js';
import type { ProbeSpec, RuleSpec } from '../load-balancing/runtime.js';
import { LOAD_BALANCER_TYPE } from '../load-balancing/backends.js';

export { LOAD_BALANCER_TYPE };
export const CHILD_ARRAYS = ['frontendIPConfigurations', 'backendAddressPools', 'probes', 'loadBalancingRules'] as const;
export type ChildArray = (typeof CHILD_ARRAYS)[number];
const NOT_SERVED = ['inboundNatRules', 'inboundNatPools', 'outboundRules'];

type Json = Record<string, unknown>;
export type Child = { id: string; name: string; type: string; etag?: string; properties: Json };

export interface ModelDeps {
  /** The public IP record with this id, if it exists (and is not being deleted). */
  publicIp(id: string): ResourceRecord | undefined;
  /** The frontend (of any load balancer) that uses the public IP, if any. */
  frontendUsing(publicIpId: string): string | undefined;
}

const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

export function children(record: { properties: Json }, array: ChildArray): Child[] {
  const v = record.properties[array];
  return Array.isArray(v) ? (v as Child[]) : [];
}

/** The load balancer's stored properties (children with ids and types), or a 400 naming the first problem. */
export function checkLoadBalancer(lbId: string, props: Json, deps: ModelDeps): Json {
  for (const field of NOT_SERVED) {
    const v = props[field];
    if (Array.isArray(v) && v.length > 0)
      throw badRequest('InvalidParameter', `properties.${field} is not served by this cloud.`, `properties.${field}`);
  }
  const named = (array: ChildArray): Child[] => {
    const raw = props[array] ?? [];
    if (!Array.isArray(raw)) throw badRequest('InvalidRequestFormat', `properties.${array} must be an array.`, `properties.${array}`);
    const out: Child[] = [];
    for (const item of raw as unknown[]) {
      const name = str(obj(item).name);
      if (!name) throw badRequest('InvalidRequestFormat', `Every entry of properties.${array} needs a name.`, `properties.${array}`);
      if (out.some((c) => c.name.toLowerCase() === name.toLowerCase()))
        throw badRequest('InvalidRequestFormat', `properties.${array} names '${name}' twice.`, `properties.${array}`);
      const { provisioningState: _p, loadBalancingRules: _r, backendIPConfigurations: _b, ...rest } = obj(obj(item).properties);
      out.push({ id: `${lbId}/${array}/${name}`, name, type: `${LOAD_BALANCER_TYPE}/${array}`, properties: rest });
    }
    return out;
  };
  const frontends = named('frontendIPConfigurations').map((c) => checkFrontend(lbId, c, deps));
  const pools = named('backendAddressPools').map(checkPool);
  const probes = named('probes').map(checkProbe);
  const rules: Child[] = [];
  for (const c of named('loadBalancingRules')) rules.push(checkRule(c, { frontends, pools, probes, rules }));
  const { provisioningState: _p, resourceGuid: _g, ...rest } = props;
  return { ...rest, frontendIPConfigurations: frontends, backendAddressPools: pools, probes, loadBalancingRules: rules };
}

function checkFrontend(lbId: string, c: Child, deps: ModelDeps): Child {
  const p = c.properties;
  if (p.subnet !== undefined || p.privateIPAddress !== undefined) {
    throw badRequest(
      'InvalidParameter',
      `Frontend ${c.name}: private frontends are not served by this cloud; use properties.publicIPAddress.`,
    );
  }
  const pipId = str(obj(p.publicIPAddress).id);
  if (!pipId) throw badRequest('InvalidParameter', `Frontend ${c.name} needs properties.publicIPAddress.id.`, 'properties.publicIPAddress');
  if (!deps.publicIp(pipId)) throw danglingReference(pipId, c.id);
  const user = deps.frontendUsing(pipId);
  if (user && !user.toLowerCase().startsWith(`${lbId.toLowerCase()}/`)) {
    throw badRequest(
      'PublicIPAddressInUse',
      `Resource ${c.id} is referencing public IP address ${pipId} that is already allocated to resource ${user}.`,
    );
  }
  return { ...c, properties: { privateIPAllocationMethod: 'Dynamic', ...p, publicIPAddress: { id: pipId } } };
}

function checkPool(c: Child): Child {
  const raw = c.properties.loadBalancerBackendAddresses ?? [];
  if (!Array.isArray(raw))
    throw badRequest('InvalidRequestFormat', `Backend pool ${c.name}: loadBalancerBackendAddresses must be an array.`);
  const addresses = (raw as unknown[]).map((a, i) => {
    const props = obj(obj(a).properties);
    const ip = props.ipAddress;
    if (typeof ip !== 'string' || !isIpv4(ip)) {
      throw badRequest(
        'InvalidParameter',
        `Backend pool ${c.name}: loadBalancerBackendAddresses[${i}].properties.ipAddress ${JSON.stringify(ip)} is not an IPv4 address.`,
      );
    }
    return { name: str(obj(a).name) || `address${i}`, properties: { ...props, ipAddress: ip } };
  });
  return { ...c, properties: { ...c.properties, loadBalancerBackendAddresses: addresses } };
}

function checkProbe(c: Child): Child {
  const p = c.properties;
  const protocol = str(p.protocol);
  if (protocol.toLowerCase() !== 'tcp') {
    throw badRequest(
      'InvalidParameter',
      `Probe ${c.name}: protocol '${protocol}' is not served by this cloud; use Tcp.`,
      'properties.protocol',
    );
  }
  if (p.requestPath !== undefined)
    throw badRequest('InvalidParameter', `Probe ${c.name}: a Tcp probe takes no requestPath.`, 'properties.requestPath');
  const interval = p.intervalInSeconds ?? 15;
  const count = p.numberOfProbes ?? 2;
  const threshold = p.probeThreshold ?? 1;
  if (!isInt(p.port, 1, 65535))
    throw badRequest('InvalidParameter', `Probe ${c.name}: port must be an integer from 1 to 65535.`, 'properties.port');
  if (!isInt(interval, 5, 2147483646))
    throw badRequest(
      'InvalidParameter',
      `Probe ${c.name}: intervalInSeconds must be an integer of at least 5.`,
      'properties.intervalInSeconds',
    );
  if (!isInt(count, 1, 2147483647))
    throw badRequest('InvalidParameter', `Probe ${c.name}: numberOfProbes must be a positive integer.`, 'properties.numberOfProbes');
  if (!isInt(threshold, 1, 100))
    throw badRequest('InvalidParameter', `Probe ${c.name}: probeThreshold must be an integer from 1 to 100.`, 'properties.probeThreshold');
  return { ...c, properties: { ...p, protocol: 'Tcp', intervalInSeconds: interval, numberOfProbes: count, probeThreshold: threshold } };
}

const DISTRIBUTIONS = ['Default', 'SourceIP', 'SourceIPProtocol'];

function checkRule(c: Child, own: { frontends: Child[]; pools: Child[]; probes: Child[]; rules: Child[] }): Child {
  const p = c.properties;
  const ref = (field: string, list: Child[], required: boolean): string | undefined => {
    const id = str(obj(p[field]).id);
    if (!id) {
      if (required)
        throw badRequest('InvalidParameter', `Load balancing rule ${c.name} needs properties.${field}.id.`, `properties.${field}`);
      return undefined;
    }
    if (!list.some((x) => x.id.toLowerCase() === id.toLowerCase())) throw danglingReference(id, c.id);
    return id;
  };
  const frontend = ref('frontendIPConfiguration', own.frontends, true)!;
  if (Array.isArray(p.backendAddressPools) && p.backendAddressPools.length > 0)
    throw badRequest('InvalidParameter', `Load balancing rule ${c.name}: use properties.backendAddressPool (one pool).`);
  const pool = ref('backendAddressPool', own.pools, true)!;
  const probe = ref('probe', own.probes, false);
  const protocol = str(p.protocol);
  if (protocol.toLowerCase() !== 'tcp')
    throw badRequest(
      'InvalidParameter',
      `Load balancing rule ${c.name}: protocol '${protocol}' is not served by this cloud; use Tcp.`,
      'properties.protocol',
    );
  if (!isInt(p.frontendPort, 1, 65534))
    throw badRequest(
      'InvalidParameter',
      `Load balancing rule ${c.name}: frontendPort must be an integer from 1 to 65534.`,
      'properties.frontendPort',
    );
  const backendPort = p.backendPort ?? p.frontendPort;
  if (!isInt(backendPort, 1, 65535))
    throw badRequest(
      'InvalidParameter',
      `Load balancing rule ${c.name}: backendPort must be an integer from 1 to 65535.`,
      'properties.backendPort',
    );
  const idle = p.idleTimeoutInMinutes ?? 4;
  if (!isInt(idle, 4, 100))
    throw badRequest(
      'InvalidParameter',
      `Load balancing rule ${c.name}: idleTimeoutInMinutes must be from 4 to 100.`,
      'properties.idleTimeoutInMinutes',
    );
  const distribution = DISTRIBUTIONS.find((d) => d.toLowerCase() === (str(p.loadDistribution) || 'Default').toLowerCase());
  if (!distribution)
    throw badRequest('InvalidParameter', `Load balancing rule ${c.name}: loadDistribution must be one of ${DISTRIBUTIONS.join(', ')}.`);
  const same = (x: Child) => str(obj(x.properties.frontendIPConfiguration).id).toLowerCase() === frontend.toLowerCase();
  const clash = own.rules.find((x) => same(x) && x.properties.frontendPort === p.frontendPort);
  if (clash) throw badRequest('InvalidParameter', `Load balancing rules ${clash.name} and ${c.name} use the same frontend and port.`);
  return {
    ...c,
    properties: {
      enableFloatingIP: false,
      enableTcpReset: false,
      disableOutboundSnat: false,
      ...p,
      frontendIPConfiguration: { id: frontend },
      backendAddressPool: { id: pool },
      ...(probe ? { probe: { id: probe } } : {}),
      protocol: 'Tcp',
      backendPort,
      idleTimeoutInMinutes: idle,
      loadDistribution: distribution,
    },
  };
}

/** Azure's answer to a reference to something that does not exist. */
function danglingReference(id: string, by: string) {
  return badRequest(
    'InvalidResourceReference',
    `Resource ${id} referenced by resource ${by} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
  );
}

function isIpv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((x) => /^(0|[1-9]\d{0,2})$/.test(x) && Number(x) <= 255);
}

/** The forwarders the load balancer's rules ask for; frontend addresses from their public IPs. */
export function ruleSpecs(lb: ResourceRecord, publicIpAddress: (pipId: string) => string | undefined): RuleSpec[] {
  return children(lb, 'loadBalancingRules').flatMap((r) => {
    const frontend = byId(lb, 'frontendIPConfigurations', obj(r.properties.frontendIPConfiguration).id);
    const ip = frontend && publicIpAddress(str(obj(frontend.properties.publicIPAddress).id));
    return ip ? [ruleSpec(lb, r, ip)] : [];
  });
}

/** One rule's forwarder (frontendIp empty when its frontend has no address). */
export function ruleSpec(lb: ResourceRecord, r: Child, frontendIp = ''): RuleSpec {
  const p = r.properties;
  const probe = byId(lb, 'probes', obj(p.probe).id);
  const probeSpec: ProbeSpec | undefined = probe && {
    id: probe.id,
    port: Number(probe.properties.port),
    intervalMs: Number(probe.properties.intervalInSeconds) * 1000,
    failuresToDown: Number(probe.properties.numberOfProbes),
  };
  return {
    id: r.id,
    frontendIp,
    frontendPort: Number(p.frontendPort),
    backendPort: Number(p.backendPort),
    poolId: str(obj(p.backendAddressPool).id),
    ...(probeSpec ? { probe: probeSpec } : {}),
    idleTimeoutMs: Number(p.idleTimeoutInMinutes) * 60_000,
  };
}

export function byId(lb: { properties: Json }, array: ChildArray, id: unknown): Child | undefined {
  return children(lb, array).find((c) => c.id.toLowerCase() === str(id).toLowerCase());
}
