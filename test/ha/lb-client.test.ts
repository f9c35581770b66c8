// What the HA run's client retries and what it counts as a failure it could not handle.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpCall, type HttpResult } from '../../lib/http.js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { classify, grpcRetryable } from './lb-client.js';

const answer = (status: number, headers: HttpResult['headers'] = {}) => ({ result: { status, body: '', headers } });
const error = (code: string) => ({ error: Object.assign(new Error(`connect ${code}`), { code }) });

describe('classify', () => {
  it('retries resets, refusals, 502, 503 and 429 with Retry-After, waiting as asked', () => {
    expect(classify(error('ECONNRESET'))).toEqual({ kind: 'retry', reason: 'ECONNRESET', waitMs: 1_000 });
    expect(classify(error('ECONNREFUSED'))).toMatchObject({ kind: 'retry', reason: 'ECONNREFUSED' });
    expect(classify(answer(502))).toEqual({ kind: 'retry', reason: '502', waitMs: 1_000 });
    expect(classify(answer(503, { 'retry-after': '3' }))).toEqual({ kind: 'retry', reason: '503', waitMs: 3_000 });
    expect(classify(answer(429, { 'retry-after': '2' }))).toEqual({ kind: 'retry', reason: '429', waitMs: 2_000 });
  });

  it('a 429 without Retry-After, a 500 or a timeout is a failure the client could not handle', () => {
    expect(classify(answer(429))).toEqual({ kind: 'fail', why: '429 without Retry-After' });
    expect(classify(answer(500))).toMatchObject({ kind: 'fail', why: '500: ' });
    expect(classify({ error: new Error('GET x timed out') })).toEqual({ kind: 'fail', why: 'error: GET x timed out' });
  });

  it('answers the API meant (2xx, 4xx) are answers', () => {
    expect(classify(answer(200))).toMatchObject({ kind: 'answer', result: { status: 200 } });
    expect(classify(answer(404))).toMatchObject({ kind: 'answer', result: { status: 404 } });
  });
});

describe('a real reset is classified as one', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((req) => req.socket.resetAndDestroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('ECONNRESET from a server that resets the connection', async () => {
    const outcome = classify(
      await httpCall(`http://127.0.0.1:${port}/`).then(
        (result) => ({ result }),
        (e: unknown) => ({ error: e }),
      ),
    );
    expect(outcome).toMatchObject({ kind: 'retry', reason: 'ECONNRESET' });
  });
});

describe('grpcRetryable', () => {
  it('retries UNAVAILABLE and RESOURCE_EXHAUSTED only', () => {
    expect(grpcRetryable(GrpcStatus.UNAVAILABLE)).toBe(true);
    expect(grpcRetryable(GrpcStatus.RESOURCE_EXHAUSTED)).toBe(true);
    expect(grpcRetryable(GrpcStatus.INTERNAL)).toBe(false);
    expect(grpcRetryable(GrpcStatus.NOT_FOUND)).toBe(false);
  });
});
