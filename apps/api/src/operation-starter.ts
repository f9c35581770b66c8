// Starting and cancelling operation workflows. The API never does the work itself.
import { Client, Connection, WorkflowIdReusePolicy } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import type { OperationKind } from '../../../domain/resource-id.js';
import { temporalConnectOptions, type TemporalConnectionConfig } from '../../../lib/temporal-connection.js';
import {
  CONTROL_PLANE_TASK_QUEUE,
  operationSearchAttributes,
  WORKFLOW_TYPE_FOR_KIND,
  type ClusterOperationInput,
} from '../../../workflows/contract.js';

export interface OperationStarter {
  /** Starts the operation's workflow; its id is deterministic, so a retry cannot start a second one. */
  start(input: ClusterOperationInput & { workflowId: string; resourceGroup: string }): Promise<void>;
  /** Asks the operation's workflow to stop. */
  cancel(workflowId: string): Promise<void>;
  close(): Promise<void>;
}

export async function temporalOperationStarter(o: {
  temporal: TemporalConnectionConfig;
  payloadCodec: PayloadCodec;
  taskQueue?: string;
  /** Which workflow runs each kind (default: the real ones; API contract tests use the stand-in). */
  workflowTypes?: Record<OperationKind, string>;
}): Promise<OperationStarter> {
  const connection = await Connection.connect(temporalConnectOptions(o.temporal));
  // Workflow inputs are encrypted before they reach Temporal (the worker decrypts them).
  const client = new Client({ connection, namespace: o.temporal.namespace, dataConverter: { payloadCodecs: [o.payloadCodec] } });
  return {
    async start(input) {
      const { workflowId, resourceGroup, ...args } = input;
      await client.workflow.start((o.workflowTypes ?? WORKFLOW_TYPE_FOR_KIND)[input.kind], {
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
    close: () => connection.close(),
  };
}
