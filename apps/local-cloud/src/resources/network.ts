// Microsoft.Network: virtual networks with subnets, network security groups with security rules.
// The checks are the ones Azure makes and a module author trips over: prefixes well formed,
// subnets inside the network and not overlapping, references to existing NSGs, priorities unique
// per direction, nothing deleted while in use.
import type { ResourceView, Services, TypeHandler } from '../context.js';
import { str } from '../json-text.js';
import { badRequest } from '../errors.js';
import { cidrContains, cidrOverlaps, parseCidr, type Cidr } from './cidr.js';
import { nestedTypeHandlers, registerNetworkOperations } from './nested.js';

export const VNET_TYPE = 'Microsoft.Network/virtualNetworks';
export const SUBNET_TYPE = 'Microsoft.Network/virtualNetworks/subnets';
export const NSG_TYPE = 'Microsoft.Network/networkSecurityGroups';
export const RULE_TYPE = 'Microsoft.Network/networkSecurityGroups/securityRules';

export interface NetworkOptions {
  /** Who (a scale set id) uses the subnet with this id, if anyone. */
  subnetUser(subnetId: string): string | undefined;
}

export function networkHandlers(s: Services, o: NetworkOptions): TypeHandler[] {
  registerNetworkOperations(s);
  const [vnet, subnet] = nestedTypeHandlers(s, {
    parentType: VNET_TYPE,
    childType: SUBNET_TYPE,
    arrayProp: 'subnets',
    checkParent: (props) => {
      const space = (props.addressSpace ?? {}) as Record<string, unknown>;
      const prefixes = space.addressPrefixes;
      if (!Array.isArray(prefixes) || prefixes.length === 0) {
        throw badRequest(
          'InvalidAddressSpace',
          'properties.addressSpace.addressPrefixes must list at least one prefix.',
          'properties.addressSpace',
        );
      }
      for (const p of prefixes)
        if (!parseCidr(p)) throw badRequest('InvalidAddressPrefixFormat', `Address prefix ${String(p)} is not a valid IPv4 CIDR prefix.`);
      const { subnets: _s, provisioningState: _p, resourceGuid: _g, ...rest } = props;
      return { enableDdosProtection: false, ...rest, addressSpace: { ...space, addressPrefixes: prefixes } };
    },
    checkChild: (name, props, parentProps, siblings) => {
      const raw: unknown =
        props.addressPrefix ?? (Array.isArray(props.addressPrefixes) ? (props.addressPrefixes as unknown[])[0] : undefined);
      const prefix = parseCidr(raw);
      if (!prefix)
        throw badRequest('InvalidAddressPrefixFormat', `Subnet ${name}: address prefix ${String(raw)} is not a valid IPv4 CIDR prefix.`);
      const space = ((parentProps.addressSpace as Record<string, unknown> | undefined)?.addressPrefixes as string[] | undefined) ?? [];
      if (!space.some((p) => cidrContains(parseCidr(p)!, prefix))) {
        throw badRequest(
          'NetcfgSubnetRangeOutsideVnet',
          `Subnet '${name}' is not valid because its IP address range is outside the IP address range of virtual network.`,
        );
      }
      for (const sib of siblings) {
        const other = subnetPrefix(sib);
        if (other && cidrOverlaps(other, prefix)) {
          throw badRequest(
            'NetcfgSubnetRangesOverlap',
            `Subnet '${name}' is not valid because its IP address range overlaps with that of an existing subnet '${String(sib.name)}' in virtual network.`,
          );
        }
      }
      const nsg = props.networkSecurityGroup as { id?: unknown } | undefined;
      if (nsg !== undefined && (typeof nsg?.id !== 'string' || s.store.get(nsg.id)?.type !== NSG_TYPE)) {
        throw badRequest('InvalidResourceReference', `Resource ${String(nsg?.id)} referenced by subnet ${name} was not found.`);
      }
      const { provisioningState: _p, ...rest } = props;
      return { privateEndpointNetworkPolicies: 'Disabled', privateLinkServiceNetworkPolicies: 'Enabled', ...rest, addressPrefix: raw };
    },
    inUse: (id) => {
      const r = s.store.get(id);
      if (r?.type === VNET_TYPE) {
        for (const sn of (r.properties.subnets as ResourceView[] | undefined) ?? []) {
          const user = o.subnetUser(String(sn.id));
          if (user) return user;
        }
        return undefined;
      }
      return o.subnetUser(id);
    },
    inUseCode: { parent: 'InUseSubnetCannotBeDeleted', child: 'InUseSubnetCannotBeDeleted' },
  });

  const [nsg, rule] = nestedTypeHandlers(s, {
    parentType: NSG_TYPE,
    childType: RULE_TYPE,
    arrayProp: 'securityRules',
    checkParent: (props) => {
      const { securityRules: _r, defaultSecurityRules: _d, provisioningState: _p, resourceGuid: _g, ...rest } = props;
      return rest;
    },
    checkChild: (name, props, _parent, siblings) => checkRule(name, props, siblings),
    parentExtras: (id) => ({ defaultSecurityRules: defaultRules(id) }),
    inUse: (id) => {
      if (s.store.get(id)?.type !== NSG_TYPE) return undefined;
      for (const v of s.store.under(id.split('/').slice(0, 3).join('/'), VNET_TYPE)) {
        for (const sn of (v.properties.subnets as ResourceView[] | undefined) ?? []) {
          const ref = (sn.properties as Record<string, unknown>).networkSecurityGroup as { id?: string } | undefined;
          if (ref?.id?.toLowerCase() === id.toLowerCase()) return String(sn.id);
        }
      }
      return undefined;
    },
    inUseCode: { parent: 'InUseNetworkSecurityGroupCannotBeDeleted', child: 'InUseSecurityRuleCannotBeDeleted' },
  });
  return [vnet, subnet, nsg, rule];
}

function subnetPrefix(subnet: ResourceView): Cidr | undefined {
  return parseCidr((subnet.properties as Record<string, unknown>).addressPrefix);
}

const DIRECTIONS = ['Inbound', 'Outbound'];
const ACCESS = ['Allow', 'Deny'];
const PROTOCOLS = ['Tcp', 'Udp', 'Icmp', 'Esp', 'Ah', '*'];

function checkRule(name: string, props: Record<string, unknown>, siblings: ResourceView[]): Record<string, unknown> {
  const pick = (field: string, allowed: string[]) => {
    const v = allowed.find((a) => a.toLowerCase() === str(props[field]).toLowerCase());
    if (!v) {
      throw badRequest(
        'SecurityRuleParameterContainsUnsupportedValue',
        `Security rule ${name}: ${field} '${String(props[field])}' is not one of ${allowed.join(', ')}.`,
        `properties.${field}`,
      );
    }
    return v;
  };
  const direction = pick('direction', DIRECTIONS);
  const access = pick('access', ACCESS);
  const protocol = pick('protocol', PROTOCOLS);
  const priority = props.priority;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 100 || priority > 4096) {
    throw badRequest(
      'SecurityRuleInvalidPriority',
      `Security rule ${name} has invalid priority ${String(priority)}: use an integer from 100 to 4096.`,
    );
  }
  for (const pair of [
    ['sourcePortRange', 'sourcePortRanges'],
    ['destinationPortRange', 'destinationPortRanges'],
    ['sourceAddressPrefix', 'sourceAddressPrefixes'],
    ['destinationAddressPrefix', 'destinationAddressPrefixes'],
  ] as const) {
    const [one, many] = pair;
    const has = typeof props[one] === 'string' || (Array.isArray(props[many]) && (props[many] as unknown[]).length > 0);
    if (!has) throw badRequest('SecurityRuleParameterMissing', `Security rule ${name} needs ${one} or ${many}.`, `properties.${one}`);
  }
  const clash = siblings.find((r) => {
    const p = r.properties as Record<string, unknown>;
    return p.priority === priority && p.direction === direction;
  });
  if (clash) {
    throw badRequest(
      'SecurityRuleConflict',
      `Security rule ${name} conflicts with rule ${String(clash.name)}: rules cannot have the same priority (${priority}) and direction (${direction}).`,
    );
  }
  const { provisioningState: _p, ...rest } = props;
  return { ...rest, direction, access, protocol, priority };
}

function defaultRules(nsgId: string): ResourceView[] {
  const rule = (name: string, priority: number, direction: string, access: string, src: string, dst: string) => ({
    id: `${nsgId}/defaultSecurityRules/${name}`,
    name,
    type: 'Microsoft.Network/networkSecurityGroups/defaultSecurityRules',
    properties: {
      provisioningState: 'Updating',
      description: `Default rule ${name}`,
      protocol: '*',
      sourcePortRange: '*',
      destinationPortRange: '*',
      sourceAddressPrefix: src,
      destinationAddressPrefix: dst,
      access,
      priority,
      direction,
    },
  });
  return [
    rule('AllowVnetInBound', 65000, 'Inbound', 'Allow', 'VirtualNetwork', 'VirtualNetwork'),
    rule('AllowAzureLoadBalancerInBound', 65001, 'Inbound', 'Allow', 'AzureLoadBalancer', '*'),
    rule('DenyAllInBound', 65500, 'Inbound', 'Deny', '*', '*'),
    rule('AllowVnetOutBound', 65000, 'Outbound', 'Allow', 'VirtualNetwork', 'VirtualNetwork'),
    rule('AllowInternetOutBound', 65001, 'Outbound', 'Allow', '*', 'Internet'),
    rule('DenyAllOutBound', 65500, 'Outbound', 'Deny', '*', '*'),
  ];
}
