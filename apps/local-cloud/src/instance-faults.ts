// Test-only: an instance broken for good (its VM's host failed and will not start it again), so
// tests can show the control plane repairing a server without a human. Mounted only with
// `faultInjection`, behind the same admin secret as faults.ts (header x-hcs-fault-admin):
//   PUT /_test/instances/broken  {"scaleSetId": "/subscriptions/.../virtualMachineScaleSets/x", "instanceId": "0"}
//     kills the instance's process; the fleet's own restarts and restart/start actions are refused
//     (the action fails as a VM that does not boot) until the instance is reimaged or deleted.
//   GET /_test/instances/broken  the broken instances' keys
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ComputeRuntime } from './compute/runtime.js';
import type { Fleet } from './compute/fleet.js';
import { CloudError } from './errors.js';
import { adminCheck } from './faults.js';

export const BROKEN_INSTANCES_PATH = '/_test/instances/broken';

const breakSchema = z.object({ scaleSetId: z.string().min(1), instanceId: z.string().min(1) }).strict();

export function registerInstanceFaults(app: FastifyInstance, o: { runtime: ComputeRuntime; fleet: Fleet; adminSecret: string }): void {
  const checkAdmin = adminCheck(o.adminSecret);
  app.put(BROKEN_INSTANCES_PATH, async (req) => {
    checkAdmin(req);
    const parsed = breakSchema.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new CloudError(400, 'InvalidRequestContent', `Invalid instance fault: ${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    await o.runtime.breakInstance(parsed.data.scaleSetId, parsed.data.instanceId);
    return { broken: o.fleet.broken() };
  });
  app.get(BROKEN_INSTANCES_PATH, async (req) => {
    checkAdmin(req);
    return { broken: o.fleet.broken() };
  });
}
