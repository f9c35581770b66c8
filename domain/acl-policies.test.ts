import { describe, expect, it } from 'vitest';
import { AGENT_POLICY, CLUSTER_TOKENS, REPLICATION_POLICY, SECONDARY_TOKENS, SNAPSHOT_POLICY } from './acl-policies.js';

describe('control-plane ACL policies', () => {
  it('gives the agent token node write and read on services and agents, nothing more', () => {
    expect(AGENT_POLICY).toBe(
      'node_prefix "" { policy = "write" }\nservice_prefix "" { policy = "read" }\nagent_prefix "" { policy = "read" }\n',
    );
    expect(AGENT_POLICY).not.toContain('acl');
  });

  it('gives the snapshot token what snapshots need (acl write, operator read, key read)', () => {
    expect(SNAPSHOT_POLICY).toBe('acl = "write"\noperator = "read"\nkey_prefix "" { policy = "read" }\n');
  });

  it("gives the replication token Consul's documented replication policy", () => {
    expect(REPLICATION_POLICY).toContain('acl = "write"');
    expect(REPLICATION_POLICY).toContain('operator = "write"');
    expect(REPLICATION_POLICY).toContain('service_prefix "" {\n  policy = "read"\n  intentions = "read"\n}');
  });

  it('makes the agent and snapshot tokens in every cluster and adds the replication token for a secondary', () => {
    expect(CLUSTER_TOKENS.map((t) => [t.name, t.secret])).toEqual([
      ['hcs-agent', 'agent'],
      ['hcs-snapshot', 'snapshot'],
    ]);
    expect(SECONDARY_TOKENS.map((t) => t.name)).toEqual(['hcs-agent', 'hcs-snapshot', 'hcs-replication']);
    expect(SECONDARY_TOKENS.at(-1)).toEqual({ name: 'hcs-replication', secret: 'replication', rules: REPLICATION_POLICY });
  });
});
