// Starting and cancelling operation workflows. The API never does the work itself.
import { Client, Connection, WorkflowIdReusePolicy, WorkflowNotFoundError } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { temporalConnectOptions, type TemporalConnectionConfig } from '../../../lib/temporal-connection.js';
import {
  CONTROL_PLANE_TASK_QUEUE,
  operationSearchAttributes,
  workflowTypeFor,
  type ClusterOperationInput,
  type WorkflowTypes,
} from '../../../contract/temporal.js';

export interface OperationStarter {
  /** Starts the operation's workflow; its id is deterministic, so a retry cannot start a second one. */
  start(input: ClusterOperationInput & { workflowId: string; resourceGroup: string }): Promise<void>;
  /** Asks the operation's workflow to stop. */
  cancel(workflowId: string): Promise<void>;
  /**
   * Whether Temporal has the workflow: after a start that failed ambiguously (a deadline), the
   * answer says whether it was accepted anyway. Throws when Temporal cannot be asked.
   */
  find(workflowId: string): Promise<'running' | 'closed' | 'absent'>;
  close(): Promise<void>;
}

export async function temporalOperationStarter(o: {
  temporal: TemporalConnectionConfig;
  payloadCodec: PayloadCodec;
  taskQueue?: string;
  /** Which workflow runs each kind (default: the real ones; API contract tests use the stand-in). */
  workflowTypes?: WorkflowTypes;
}): Promise<OperationStarter> {
  const connection = await Connection.connect(temporalConnectOptions(o.temporal));
  // Workflow inputs are encrypted before they reach Temporal (the worker decrypts them).
  const client = new Client({ connection, namespace: o.temporal.namespace, dataConverter: { payloadCodecs: [o.payloadCodec] } });
  return {
    async start(input) {
      const { workflowId, resourceGroup, ...args } = input;
      // A kind no workflow runs (maintenance in production) is refused before Temporal is asked.
      await client.workflow.start(workflowTypeFor(input.kind, o.workflowTypes), {
        taskQueue: o.taskQueue ?? CONTROL_PLANE_TASK_QUEUE,
        workflowId,
        args: [args],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        memo: { correlationId: input.correlationId },
        typedSearchAttributes: operationSearchAttributes(input, resourceGroup),
      });
    },
    async cancel(workflowId) {
      await client.workflow.getHandle(workflowId).cancel();
    },
    async find(workflowId) {
      try {
        const d = await client.workflow.getHandle(workflowId).describe();
        return d.status.name === 'RUNNING' ? 'running' : 'closed';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return 'absent';
        throw err;
      }
    },
    close: () => connection.close(),
  };
}
