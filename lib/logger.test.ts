import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { captureLogLines } from '../test/support/log-capture.js';
import { createLogger, parseLogLevel, summarizeError, type LogLevel } from './logger.js';

/** A logger writing into an array of parsed lines. */
function capturedLogger(level: LogLevel = 'debug') {
  const { destination, lines } = captureLogLines();
  return { logger: createLogger({ service: 'test', level, destination }), lines };
}

/** An HTTP client's error as such clients make them: the request's configuration (headers and all) hangs off it. */
function httpClientError() {
  return Object.assign(new Error('Request failed with status code 403'), {
    name: 'AxiosError',
    code: 'ERR_BAD_REQUEST',
    config: {
      url: 'https://vault.test/v1/pki/issue',
      headers: { Authorization: 'Bearer s3cr3t-vault-token', 'X-Vault-Token': 'hvs.s3cr3t' },
    },
    response: { status: 403, data: { errors: ['permission denied'] }, headers: { 'set-cookie': 'session=s3cr3t' } },
  });
}

describe('createLogger', () => {
  it('writes one JSON object per line with the service, an ISO time and the level as a word', async () => {
    const { logger, lines } = capturedLogger('info');
    logger.info({ correlationId: 'c-1' }, 'request');
    logger.debug('below the level');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', service: 'test', correlationId: 'c-1', msg: 'request' });
    expect(new Date(String(lines[0]!.time)).toISOString()).toBe(lines[0]!.time);
  });

  it('redacts credentials wherever a caller puts them: headers, tokens, keys, one level down too', () => {
    const { logger, lines } = capturedLogger();
    logger.info(
      {
        req: { method: 'PUT', headers: { authorization: 'Bearer hcsop_admin_abc' } },
        token: 'tok-1',
        vault: { token: 'tok-2', 'x-vault-token': 'tok-3' },
        blob: { accountKey: 'key-1' },
        secrets: { gossipKey: 'key-2', rootToken: 'tok-4' },
      },
      'call',
    );
    const text = JSON.stringify(lines);
    for (const secret of ['hcsop_admin_abc', 'tok-1', 'tok-2', 'tok-3', 'tok-4', 'key-1', 'key-2']) expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({ req: { method: 'PUT', headers: { authorization: '[redacted]' } }, vault: { token: '[redacted]' } });
  });

  it('logs an error as its type and message only, never the object around it', () => {
    const { logger, lines } = capturedLogger();
    logger.warn({ error: httpClientError() }, 'Activity failed');
    logger.error({ err: ApplicationFailure.nonRetryable('the CIDR overlaps', 'InvalidNetwork') }, 'failed');
    expect(lines[0]).toEqual(
      expect.objectContaining({ error: { type: 'AxiosError', message: 'Request failed with status code 403', code: 'ERR_BAD_REQUEST' } }),
    );
    expect(lines[1]).toEqual(expect.objectContaining({ err: { type: 'InvalidNetwork', message: 'the CIDR overlaps' } }));
    expect(JSON.stringify(lines)).not.toMatch(/s3cr3t|permission denied|vault\.test/);
  });
});

describe('summarizeError', () => {
  it('keeps the first line of a message, bounded, and the cause', () => {
    const err = new Error(`first line ${'x'.repeat(600)}\nsecond line`, { cause: new TypeError('underneath') });
    const s = summarizeError(err);
    expect(s.message).toMatch(/^first line x+\.\.\.$/);
    expect(s.message.length).toBe(503);
    expect(s.cause).toEqual({ type: 'TypeError', message: 'underneath' });
    expect(summarizeError('a string')).toEqual({ type: 'string', message: 'a string' });
  });
});

describe('parseLogLevel', () => {
  it('reads a level, any case, with info when unset', () => {
    expect(parseLogLevel('DEBUG')).toBe('debug');
    expect(parseLogLevel(undefined)).toBe('info');
    expect(parseLogLevel('')).toBe('info');
  });
  it('refuses a value that is not a level, naming the setting and the levels', () => {
    expect(() => parseLogLevel('loud')).toThrow('HCS_LOG_LEVEL must be one of trace, debug, info, warn, error, silent; it is "loud"');
  });
});
