// Typed dispatch: the handler object is checked against the generated service descriptors, so an
// RPC without a handler is a compile error (tsc checks this file: see the @ts-expect-error), and
// the transports find a handler for every RPC they serve.
import { expect, it } from 'vitest';
import { OperationService } from '../../../gen/hcs/consul/v1/operation_pb.js';
import { handlerFor, SERVICES, type ApiHandlers, type ServiceHandlers } from './contract.js';
import { createHandlers } from './handlers.js';
import { DEFAULT_LIMITS } from './service/quotas.js';

const answer = async () => ({});

// @ts-expect-error cancelOperation and getOperationResult have no handler: this does not compile.
const incomplete: ServiceHandlers<typeof OperationService> = { getOperation: answer, listOperations: answer };

const complete: ServiceHandlers<typeof OperationService> = {
  getOperation: answer,
  listOperations: answer,
  cancelOperation: answer,
  getOperationResult: answer,
};

it('types a service handler object by the methods of its generated descriptor', () => {
  expect(Object.keys(complete).sort()).toEqual(OperationService.methods.map((m) => m.localName).sort());
  expect(Object.keys(incomplete)).toHaveLength(2);
  expect(() => handlerFor(incomplete as unknown as ApiHandlers, OperationService.method.cancelOperation)).toThrow(
    /no handler for hcs.consul.v1.OperationService.CancelOperation/,
  );
});

it('builds a handler for every RPC of every service the API serves', () => {
  const handlers: ApiHandlers = createHandlers({
    db: {} as never,
    starter: {} as never,
    catalogue: [],
    sealer: {} as never,
    limits: DEFAULT_LIMITS,
  });
  const methods = SERVICES.flatMap((s) => s.methods);
  expect(methods.map((m) => m.name)).toContain('GetOperationResult');
  for (const method of methods) expect(typeof handlerFor(handlers, method), method.name).toBe('function');
});
