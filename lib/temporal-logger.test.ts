import { describe, expect, it } from 'vitest';
import { captureLogLines } from '../test/support/log-capture.js';
import { createLogger, type LogLevel } from './logger.js';
import { PinoTemporalLogger, temporalLevelOf } from './temporal-logger.js';

function captured(level: LogLevel) {
  const { destination, lines } = captureLogLines();
  return { temporal: new PinoTemporalLogger(createLogger({ service: 'worker', level, destination })), lines };
}

describe('PinoTemporalLogger', () => {
  it("forwards the SDK's lines at their level with their metadata, leaving out symbol keys", () => {
    const { temporal, lines } = captured('info');
    temporal.info('Worker state changed', { state: 'RUNNING', sdkComponent: 'worker', [Symbol('timestamp')]: 1n });
    temporal.debug('Activity started', { activityType: 'recordProgress' });
    temporal.log('ERROR', 'Worker failed', { error: new Error('connection refused') });
    expect(lines).toEqual([
      expect.objectContaining({ level: 'info', service: 'worker', msg: 'Worker state changed', state: 'RUNNING', sdkComponent: 'worker' }),
      expect.objectContaining({ level: 'error', msg: 'Worker failed', error: { type: 'Error', message: 'connection refused' } }),
    ]);
  });

  it("the activity failure line carries the error's type and message, not the HTTP client's request", () => {
    const { temporal, lines } = captured('warn');
    const err = Object.assign(new Error('Request failed with status code 401'), {
      name: 'AxiosError',
      config: { headers: { Authorization: 'Bearer eyJ-secret' } },
    });
    temporal.warn('Activity failed', { error: err, durationMs: 12, activityType: 'issueServerCertificates', correlationId: 'corr-9' });
    expect(lines).toEqual([
      expect.objectContaining({
        msg: 'Activity failed',
        error: { type: 'AxiosError', message: 'Request failed with status code 401' },
        correlationId: 'corr-9',
      }),
    ]);
    expect(JSON.stringify(lines)).not.toContain('eyJ-secret');
  });

  it("sets the core's filter to the pino level", () => {
    expect(captured('debug').temporal.level).toBe('DEBUG');
    expect(captured('warn').temporal.level).toBe('WARN');
    expect(temporalLevelOf('silent')).toBe('ERROR');
    expect(temporalLevelOf('fatal')).toBe('ERROR');
    expect(temporalLevelOf('trace')).toBe('TRACE');
  });
});
