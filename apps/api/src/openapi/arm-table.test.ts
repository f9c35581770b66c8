// The REST server's status codes come from the ARM table; every code it can answer is one the
// document lists for the verb (RESPONSES), so what is served and what is documented agree.
import { describe, expect, it } from 'vitest';
import { rpcRoutes, type HttpVerb } from '../contract.js';
import { RESPONSES, successStatus } from './arm-table.js';
import {
  LRO_FINAL_RESULTS,
  OPERATION_RESULT,
  OPERATION_RESULT_BODIES,
  isLongRunning,
  lroFinalResult,
  UNDOCUMENTED_RPCS,
} from './arm-lro.js';

const VERBS: HttpVerb[] = ['get', 'put', 'post', 'patch', 'delete'];

describe('successStatus', () => {
  it.each(VERBS)('answers %s only with codes the document lists', (verb) => {
    // A long-running GET is refused by the generator (RESPONSES.get.lro is empty).
    for (const longRunning of verb === 'get' ? [false] : [false, true]) {
      for (const running of longRunning ? [false, true] : [false]) {
        for (const created of verb === 'put' ? [false, true] : [undefined]) {
          for (const existed of verb === 'delete' ? [false, true] : [undefined]) {
            // A long-running DELETE ends (or does not start) with 202 or 204: it never answers 200.
            if (verb === 'delete' && longRunning && !running && existed !== false) continue;
            const status = successStatus(verb, longRunning, {
              running,
              ...(created !== undefined ? { created } : {}),
              ...(existed !== undefined ? { existed } : {}),
            });
            const listed = Object.keys(RESPONSES[verb][longRunning ? 'lro' : 'sync']).map(Number);
            expect(listed, `${verb} longRunning=${longRunning} running=${running} created=${created} existed=${existed}`).toContain(status);
          }
        }
      }
    }
  });

  it('follows ARM: PUT 201 on create, 202 while a long-running operation runs, 204 for a delete of nothing', () => {
    expect(successStatus('put', true, { running: true, created: true })).toBe(201);
    expect(successStatus('put', true, { running: true, created: false })).toBe(200);
    expect(successStatus('post', true, { running: true })).toBe(202);
    expect(successStatus('patch', true, { running: false })).toBe(200);
    expect(successStatus('delete', true, { running: false, existed: false })).toBe(204);
    expect(successStatus('post', false, { running: true })).toBe(200);
  });
});

describe('the operation result', () => {
  it('is an RPC of the contract that the document leaves out', () => {
    const route = rpcRoutes().find((r) => r.method.name === OPERATION_RESULT.rpc);
    expect(route?.verb).toBe('get');
    expect(route?.path).toMatch(/\/operationResults\/\{operation_id\}$/);
    expect(UNDOCUMENTED_RPCS.has(OPERATION_RESULT.rpc)).toBe(true);
  });

  it('sends every result of the response oneof, and only those', () => {
    const route = rpcRoutes().find((r) => r.method.name === OPERATION_RESULT.rpc)!;
    const oneof = route.method.output.oneofs.find((o) => o.name === 'result');
    expect(oneof?.fields.map((f) => f.jsonName).sort()).toEqual(Object.keys(OPERATION_RESULT_BODIES).sort());
  });
});

describe('the final results of long-running RPCs', () => {
  it('lists every documented long-running RPC and no other, each with a result of the oneof or none', () => {
    const longRunning = rpcRoutes()
      .filter((r) => isLongRunning(r) && !UNDOCUMENTED_RPCS.has(r.method.name))
      .map((r) => r.method.name)
      .sort();
    expect(Object.keys(LRO_FINAL_RESULTS).sort()).toEqual(longRunning);
    for (const result of Object.values(LRO_FINAL_RESULTS)) {
      if (result !== null) expect(Object.keys(OPERATION_RESULT_BODIES)).toContain(result);
    }
  });

  it('refuses an RPC it does not list', () => {
    expect(() => lroFinalResult('ReticulateSplines')).toThrow(/ReticulateSplines has no entry in arm-lro.ts LRO_FINAL_RESULTS/);
  });
});
