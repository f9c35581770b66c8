// Every kind the API can start runs a workflow the worker really registers (workflows/index.ts),
// never the contract tests' stand-in; `maintenance` alone has none and is refused.
import { expect, it } from 'vitest';
import { STAND_IN_WORKFLOW_TYPES, WORKFLOW_TYPE_FOR_KIND, workflowTypeFor } from '../../contract/temporal.js';
import { OPERATION_KINDS } from '../../domain/resource-id.js';
import * as workflows from '../../workflows/index.js';

it('every production workflow type is a workflow the worker registers, and none is the stand-in', () => {
  const registered = workflows as Record<string, unknown>;
  const standIn = new Set(Object.values(STAND_IN_WORKFLOW_TYPES));
  for (const kind of OPERATION_KINDS) {
    const type = WORKFLOW_TYPE_FOR_KIND[kind];
    if (type === null) {
      expect(kind).toBe('maintenance');
      continue;
    }
    expect(typeof registered[workflowTypeFor(kind)], `${kind}: ${type}`).toBe('function');
    expect(standIn.has(type), `${kind}: ${type}`).toBe(false);
  }
});
