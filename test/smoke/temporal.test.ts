import { defineSearchAttributeKey } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect, inject, it } from 'vitest';
import { useTemporalClient } from '../support/control-plane-fixture.js';

const stack = inject('stack');
const ClusterId = defineSearchAttributeKey('ClusterId', 'KEYWORD');
const SubscriptionId = defineSearchAttributeKey('SubscriptionId', 'KEYWORD');
const ResourceGroup = defineSearchAttributeKey('ResourceGroup', 'KEYWORD');
const Operation = defineSearchAttributeKey('Operation', 'KEYWORD');

const client = useTemporalClient(stack);

it('runs a workflow on the real Temporal server and finds it again by search attributes', async () => {
  const taskQueue = `smoke-${randomUUID()}`;
  const clusterId = `/subscriptions/${randomUUID()}/resourcegroups/rg/providers/hcs.consul/clusters/smoke`;
  const workerConnection = await NativeConnection.connect({ address: stack.temporal.address });
  const worker = await Worker.create({
    connection: workerConnection,
    namespace: stack.temporal.namespace,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('../fixtures/smoke-workflows.ts', import.meta.url)),
  });
  try {
    const result = await worker.runUntil(async () => {
      const handle = await client.workflow.start('smokeWorkflow', {
        taskQueue,
        workflowId: `smoke/${randomUUID()}`,
        args: [{ greeting: 'hello' }],
        typedSearchAttributes: [
          { key: ClusterId, value: clusterId },
          { key: SubscriptionId, value: 'sub-smoke' },
          { key: ResourceGroup, value: 'rg' },
          { key: Operation, value: 'smoke' },
        ],
      });
      return { id: handle.workflowId, value: (await handle.result()) as string };
    });
    expect(result.value).toBe(`hello from ${result.id}`);

    // Visibility is eventually consistent: poll until the list query sees the closed workflow.
    const query = `ClusterId = "${clusterId}" AND Operation = "smoke-done" AND ExecutionStatus = "Completed"`;
    let found: string[] = [];
    for (let i = 0; i < 50 && found.length === 0; i++) {
      found = [];
      for await (const wf of client.workflow.list({ query })) found.push(wf.workflowId);
      if (found.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(found).toEqual([result.id]);
  } finally {
    await workerConnection.close();
  }
});
