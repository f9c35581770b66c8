import { describe, expect, it } from 'vitest';
import { OPERATION_KINDS } from '../domain/resource-id.js';
import { OperationNotAvailableError, STAND_IN_WORKFLOW_TYPES, WORKFLOW_TYPE_FOR_KIND, workflowTypeFor } from './temporal.js';

describe('workflow type for each operation kind', () => {
  it('production never maps maintenance to a workflow (in particular not to the stand-in)', () => {
    expect(WORKFLOW_TYPE_FOR_KIND.maintenance).toBeNull();
    expect(() => workflowTypeFor('maintenance')).toThrow(OperationNotAvailableError);
    expect(() => workflowTypeFor('maintenance')).toThrow(/maintenance operations are not available yet/);
  });

  it('every other kind has its own production workflow, none of them the stand-in', () => {
    for (const kind of OPERATION_KINDS.filter((k) => k !== 'maintenance')) {
      expect(workflowTypeFor(kind), kind).toMatch(/^[a-z][A-Za-z]+$/);
      expect(workflowTypeFor(kind), kind).not.toBe('clusterOperationStandIn');
    }
  });

  it('the maintenance requests run their own workflows: restart, repair, and certificate rotation on request', () => {
    expect([WORKFLOW_TYPE_FOR_KIND.restart, WORKFLOW_TYPE_FOR_KIND.repair, WORKFLOW_TYPE_FOR_KIND.rotate]).toEqual([
      'restartServer',
      'repairServer',
      'rotateCertificates',
    ]);
  });

  it('the contract tests map every kind, maintenance included, to the stand-in', () => {
    for (const kind of OPERATION_KINDS) expect(workflowTypeFor(kind, STAND_IN_WORKFLOW_TYPES)).toBe('clusterOperationStandIn');
  });
});
