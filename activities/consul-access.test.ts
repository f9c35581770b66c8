// The Consul client comes from the deps' factory: the first server that names a leader is used,
// with the cluster's CA and management token; none answering is ClusterNotHealthy (retryable).
import { describe, expect, it } from 'vitest';
import { SECRET } from '../contract/secret-names.js';
import type { ConsulEndpoint } from './consul-admin.js';
import { consulAccess } from './consul-access.js';

const servers = [0, 1, 2].map((index) => ({ index, name: `s-${index}`, zone: String(index + 1), address: `10.0.0.${index + 4}` }));

function access(
  leaderAt: (url: string) => string | Error,
  endpointTrust?: (key: string) => Promise<{ caPem: string; name: string } | undefined>,
) {
  const made: ConsulEndpoint[] = [];
  const asked: Array<[string, string]> = [];
  const consul = consulAccess({
    consulAdmin: (endpoint) => {
      made.push(endpoint);
      return {
        url: endpoint.url,
        leaderAddress: async (token: string) => {
          asked.push([endpoint.url, token]);
          const r = leaderAt(endpoint.url);
          if (r instanceof Error) throw r;
          return r;
        },
      };
    },
    pki: { clusterCaBundle: async (key) => `ca of ${key}` },
    secrets: { tokenSecretId: async (scope, name) => `${name} of ${scope}` },
    ...(endpointTrust ? { endpointTrust } : {}),
  });
  return { consul, made, asked };
}

describe('consulAccess', () => {
  it('uses the first server that names a leader, over HTTPS on 8501 with the cluster CA and management token', async () => {
    const { consul, made, asked } = access((url) => (url.includes('10.0.0.4') ? new Error('connection refused') : '10.0.0.6'));
    const { admin, token } = await consul.admin('cluster-a', servers);
    expect(admin.url).toBe('https://10.0.0.5:8501');
    expect(token).toBe(`${SECRET.managementToken} of cluster-a`);
    expect(made.map((e) => e.caPem)).toEqual(['ca of cluster-a', 'ca of cluster-a']);
    expect(asked).toEqual([
      ['https://10.0.0.4:8501', token],
      ['https://10.0.0.5:8501', token],
    ]);
  });

  it('fails retryably with ClusterNotHealthy when no server names a leader', async () => {
    const { consul } = access(() => '');
    const err = await consul.admin('cluster-a', servers).then(
      () => undefined,
      (e: unknown) => e as { type?: string; nonRetryable?: boolean; message: string },
    );
    expect(err?.type).toBe('ClusterNotHealthy');
    expect(err?.nonRetryable).toBe(false);
    expect(err?.message).toMatch(/^no server of the cluster answers with a leader\. /);
  });

  it('gives a client for one server and the credentials without asking for a leader', async () => {
    const { consul, asked } = access(() => 'x');
    expect(await consul.credentials('cluster-b')).toEqual({
      ca: { caPem: 'ca of cluster-b' },
      token: `${SECRET.managementToken} of cluster-b`,
    });
    expect(consul.at('10.1.0.9', { caPem: 'pem' }).url).toBe('https://10.1.0.9:8501');
    expect(asked).toEqual([]);
  });

  it("trusts a public endpoint's ACME roots beside the cluster CA and accepts its DNS name", async () => {
    const { consul, made } = access(
      () => '10.0.0.4',
      async (key) => (key === 'public' ? { caPem: 'acme roots', name: 'c1.zone.test' } : undefined),
    );
    await consul.admin('public', servers);
    expect(made[0]).toEqual({ url: 'https://10.0.0.4:8501', caPem: 'ca of public\nacme roots\n', tlsNames: ['c1.zone.test'] });
    await consul.admin('private', servers);
    expect(made[1]).toEqual({ url: 'https://10.0.0.4:8501', caPem: 'ca of private' });
  });
});
