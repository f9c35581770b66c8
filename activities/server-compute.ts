// One server's virtual machine through Azure's compute API (@azure/arm-compute; the ARM twin
// locally): restart it, or reimage it (a fresh OS disk from the scale set's model, same network
// interface and address). Each server is a scale set of capacity 1 named after the server
// (terraform/modules/consul-cluster), in the cluster's infrastructure resource group.
import type { ComputeManagementClient } from '@azure/arm-compute';
import { workerFailure } from '../contract/errors.js';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import { whileHeartbeating } from './polling.js';

export type InstanceAction = 'restart' | 'reimage';

/** What the activities ask of the compute API. */
export interface ServerCompute {
  /** Instance ids of the scale set's VMs (a server's scale set has one). */
  instances(resourceGroup: string, scaleSet: string): Promise<string[]>;
  /** Runs the action on one instance and resolves once Azure reports it done. */
  act(resourceGroup: string, scaleSet: string, instanceId: string, action: InstanceAction): Promise<void>;
}

export interface ServerComputeDeps {
  compute: ServerCompute;
}

/** How often the SDK polls a long-running instance action (Azure's own Retry-After wins when given). */
const POLL_MS = 1_000;

/** The ServerCompute of an SDK client (Azure, or the twin through its endpoint). */
export function armServerCompute(client: ComputeManagementClient): ServerCompute {
  const vms = client.virtualMachineScaleSetVMs;
  return {
    async instances(resourceGroup, scaleSet) {
      const ids: string[] = [];
      for await (const vm of vms.list(resourceGroup, scaleSet)) if (vm.instanceId) ids.push(vm.instanceId);
      return ids;
    },
    async act(resourceGroup, scaleSet, instanceId, action) {
      const options = { updateIntervalInMs: POLL_MS };
      if (action === 'restart') await vms.restart(resourceGroup, scaleSet, instanceId, options);
      else await vms.reimage(resourceGroup, scaleSet, instanceId, options);
    },
  };
}

export function createServerComputeActivities({ compute }: ServerComputeDeps) {
  /**
   * Restart or reimage the server's VM. Safe to run again: a second restart or reimage of the
   * same server is what a retry after a lost answer does, and the server rejoins either way
   * (the workflow waits for that next).
   */
  async function act(a: { plan: ClusterPlan; server: ServerInfo; action: InstanceAction }): Promise<{ instanceId: string }> {
    return whileHeartbeating(async () => {
      const group = a.plan.infraResourceGroup;
      const ids = await compute.instances(group, a.server.name);
      const instanceId = ids[0];
      if (instanceId === undefined)
        throw workerFailure('ServerInstanceMissing', `${a.server.name} has no virtual machine in its scale set ${a.server.name}`);
      await compute.act(group, a.server.name, instanceId, a.action);
      return { instanceId };
    });
  }
  return {
    /** Restarts the server's VM (same disk). */
    restartServerInstance: (a: { plan: ClusterPlan; server: ServerInfo }) => act({ ...a, action: 'restart' }),
    /** Reimages the server's VM: a new OS disk from the scale set's model, the same address. */
    reimageServerInstance: (a: { plan: ClusterPlan; server: ServerInfo }) => act({ ...a, action: 'reimage' }),
  };
}
