import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NON_RETRYABLE_ERRORS, WORKER_ERRORS, workerFailure, type WorkerErrorType } from './errors.js';

const types = Object.keys(WORKER_ERRORS) as WorkerErrorType[];

describe('the worker error vocabulary', () => {
  it('derives the non-retryable list from the table', () => {
    expect(NON_RETRYABLE_ERRORS.sort()).toEqual(types.filter((t) => !WORKER_ERRORS[t].retryable).sort());
    expect(NON_RETRYABLE_ERRORS).toContain('SecretMissing');
    expect(NON_RETRYABLE_ERRORS).not.toContain('ClusterNotHealthy');
  });

  it('makes failures that say what to do next and retry as the table says', () => {
    for (const t of types) {
      const f = workerFailure(t, 'something broke', { tail: 'x' });
      expect(f.type).toBe(t);
      expect(f.nonRetryable).toBe(!WORKER_ERRORS[t].retryable);
      expect(f.message).toBe(`something broke. ${WORKER_ERRORS[t].hint}`);
      expect(f.details).toEqual([{ tail: 'x' }]);
      expect(WORKER_ERRORS[t].hint).toMatch(/^[A-Z].{20,}\.$/);
    }
  });

  it('is the only source of error types in the worker: no failure is made with a type outside it', () => {
    const offenders: string[] = [];
    for (const dir of ['activities', 'workflows']) {
      for (const name of readdirSync(dir)) {
        if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue;
        const src = readFileSync(join(dir, name), 'utf8');
        // ApplicationFailure.retryable(msg, 'Type') / .nonRetryable(msg, 'Type') / create({ type: 'Type' })
        for (const m of src.matchAll(/ApplicationFailure\.(?:retryable|nonRetryable)\([^;]*?,\s*'([A-Za-z]+)'/g))
          offenders.push(`${dir}/${name}: ${m[1]}`);
        for (const m of src.matchAll(/workerFailure\(\s*'([A-Za-z]+)'/g)) {
          if (!(m[1]! in WORKER_ERRORS)) offenders.push(`${dir}/${name}: ${m[1]} (not in the table)`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
