// Error trailers stay small and legal whatever a handler put into the error.
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { boundedError, grpcErrorResponse } from './error-metadata.js';
import { isLoopbackHost } from '../../../../lib/loopback.js';
import { requireTlsBeyondLoopback } from './credentials.js';

const huge = 'v'.repeat(1024 * 1024);

describe('grpcErrorResponse', () => {
  it('bounds every trailer, however long the message, target and details are', () => {
    const error = {
      code: 'InvalidParameter',
      message: `bad value ${huge}`,
      target: huge,
      details: Array.from({ length: 1000 }, () => ({ code: 'X', message: huge, target: huge })),
    };
    const res = grpcErrorResponse(
      status.INVALID_ARGUMENT,
      { httpStatus: 400, grpcCode: status.INVALID_ARGUMENT, body: { error } },
      'req-1',
    );
    const size = Object.entries(res.metadata!.toHttp2Headers()).reduce((n, [k, v]) => n + k.length + String(v).length, 0);
    expect(size).toBeLessThan(16 * 1024);
    expect(res.details!.length).toBeLessThan(600);
    const body = JSON.parse(String(res.metadata!.get('error-body-json')[0])) as { error: { details: unknown[] } };
    expect(body.error.details).toHaveLength(10);
  });

  it('sends text metadata as printable ASCII and survives lone surrogates', () => {
    const error = { code: 'InvalidResourceGroupName', message: 'Ressourcengruppe-Müller \ud800 😀', target: 'resourceGroupName' };
    const res = grpcErrorResponse(
      status.INVALID_ARGUMENT,
      { httpStatus: 400, grpcCode: status.INVALID_ARGUMENT, body: { error } },
      'req-2',
    );
    const json = String(res.metadata!.get('error-body-json')[0]);
    expect(json).toMatch(/^[ -~]*$/);
    expect((JSON.parse(json) as { error: { message: string } }).error.message).toBe('Ressourcengruppe-Müller \ufffd 😀');
    expect(() => encodeURI(res.details!)).not.toThrow();
  });

  it('keeps a short error as it is', () => {
    const error = { code: 'ResourceNotFound', message: 'The cluster was not found.' };
    expect(boundedError(error)).toEqual(error);
  });
});

describe('plaintext only on loopback', () => {
  it.each(['127.0.0.1', '127.8.9.10', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1'])('%s is loopback', (h) => {
    expect(isLoopbackHost(h)).toBe(true);
    expect(() => requireTlsBeyondLoopback(h, undefined)).not.toThrow();
  });
  it.each(['0.0.0.0', '10.0.0.4', '::', 'api.example.com', '128.0.0.1', '::ffff:10.0.0.1'])('%s needs TLS', (h) => {
    expect(isLoopbackHost(h)).toBe(false);
    expect(() => requireTlsBeyondLoopback(h, undefined)).toThrow(/HCS_API_HOST.*HCS_API_TLS_CERT_FILE/);
    expect(() => requireTlsBeyondLoopback(h, { cert: 'c', key: 'k' })).not.toThrow();
  });
});
