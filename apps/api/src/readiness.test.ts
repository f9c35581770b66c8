import { describe, expect, it } from 'vitest';
import { checkReadiness, failureReason, watchReadiness, type ReadinessReport } from './readiness.js';

const ok = async () => {};
const refused = async () => {
  throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:5432 as user admin'), { code: 'ECONNREFUSED' });
};
const hangs = () => new Promise<void>(() => {});

describe('checkReadiness', () => {
  it('is ready when every dependency answers', async () => {
    expect(await checkReadiness({ database: ok, temporal: ok })).toEqual({
      ready: true,
      checks: { database: { status: 'ok' }, temporal: { status: 'ok' } },
    });
  });

  it('names the failing dependency with the error code only, and gives up on one that does not answer', async () => {
    const started = Date.now();
    const report = await checkReadiness({ database: refused, temporal: hangs }, { timeoutMs: 200 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(report).toEqual({
      ready: false,
      checks: {
        database: { status: 'failing', reason: 'unreachable (ECONNREFUSED)' },
        temporal: { status: 'failing', reason: 'no answer within 200 ms' },
      },
    });
    expect(JSON.stringify(report)).not.toMatch(/10\.0\.0\.7|admin/);
  });
});

describe('failureReason', () => {
  it('uses the code when it is a short token, else the error type', () => {
    expect(failureReason(Object.assign(new Error('x'), { code: '57P03' }), 1)).toBe('unreachable (57P03)');
    expect(failureReason(Object.assign(new Error('x'), { code: 'a code with spaces and secrets' }), 1)).toBe('unreachable (Error)');
    expect(failureReason(new TypeError('x'), 1)).toBe('unreachable (TypeError)');
    expect(failureReason('thrown string', 1)).toBe('unreachable (error)');
  });
});

describe('watchReadiness', () => {
  it('reports the first state and then each flip, not every check', async () => {
    const states = [true, true, false, false, true];
    let i = 0;
    const seen: boolean[] = [];
    const report = (ready: boolean): ReadinessReport => ({
      ready,
      checks: { database: ready ? { status: 'ok' } : { status: 'failing', reason: 'x' }, temporal: { status: 'ok' } },
    });
    const stop = watchReadiness(
      async () => report(states[Math.min(i++, states.length - 1)]!),
      (r) => seen.push(r.ready),
      10,
    );
    await new Promise((r) => setTimeout(r, 200));
    stop();
    expect(seen).toEqual([true, false, true]);
  });
});
