import { describe, expect, it } from 'vitest';
import { API_VERSION } from '../../api/src/api-version.js';
import { ApiClient, clusterPath } from './client.js';
import { apiError, EXIT, exitForStatus, formatError } from './errors.js';

describe('ApiClient.url', () => {
  const client = new ApiClient({ endpoint: new URL('https://hcs.example:8443'), token: 'secret' });

  it('adds the api-version to paths of the endpoint', () => {
    expect(client.url('/subscriptions/s/providers/HCS.Consul/clusters')).toBe(
      `https://hcs.example:8443/subscriptions/s/providers/HCS.Consul/clusters?api-version=${API_VERSION}`,
    );
  });

  it('follows URLs the API returns on the configured endpoint only, keeping their path and query', () => {
    expect(
      client.url('https://elsewhere.example/subscriptions/s/providers/HCS.Consul/clusters?$skipToken=abc&api-version=2026-11-01'),
    ).toBe('https://hcs.example:8443/subscriptions/s/providers/HCS.Consul/clusters?$skipToken=abc&api-version=2026-11-01');
  });

  it('keeps a path prefix of the endpoint for paths it builds', () => {
    const behindGateway = new ApiClient({ endpoint: new URL('https://gw.example/hcs/'), token: 'secret' });
    expect(behindGateway.url('/subscriptions/s')).toBe(`https://gw.example/hcs/subscriptions/s?api-version=${API_VERSION}`);
  });

  it('encodes each path segment', () => {
    expect(clusterPath('s', 'rg/..', 'a b')).toBe('/subscriptions/s/resourceGroups/rg%2F../providers/HCS.Consul/clusters/a%20b');
    expect(() => clusterPath('s', '..', 'x')).toThrow(/not a valid name/);
  });
});

describe('errors', () => {
  it('maps statuses to exit codes', () => {
    expect([401, 403, 404, 409, 412, 400, 413, 429, 500, 503].map(exitForStatus)).toEqual([
      EXIT.auth,
      EXIT.auth,
      EXIT.notFound,
      EXIT.conflict,
      EXIT.conflict,
      EXIT.rejected,
      EXIT.rejected,
      EXIT.unavailable,
      EXIT.unavailable,
      EXIT.unavailable,
    ]);
  });

  it('prints code, message, target, details and the request id of an ARM error', () => {
    const body = JSON.stringify({
      error: {
        code: 'InvalidCidr',
        message: 'bad cidr',
        target: 'properties.network.cidr',
        details: [{ code: 'X', message: 'y', target: 'z' }],
      },
    });
    expect(formatError(apiError(400, body, 'req-1'))).toBe(
      'error: InvalidCidr: bad cidr\n  target: properties.network.cidr\n  - X (z): y\n  HTTP 400, request id req-1\n',
    );
    expect(formatError(apiError(502, '<html>', undefined))).toBe('error: Http502: The API answered HTTP 502.\n  HTTP 502\n');
  });
});
