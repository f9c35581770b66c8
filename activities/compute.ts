// The compute activity: a cluster's server instances through the official @azure/arm-compute
// client (real Azure in production, the local twin in development, unmodified). Long-running
// calls save their poller's state in the activity's heartbeat, so a retried activity resumes
// the same Azure operation instead of starting another restart or reimage.
import { Context } from '@temporalio/activity';
import type { ComputeManagementClient } from '@azure/arm-compute';

export interface ComputeDeps {
  compute: ComputeManagementClient;
  /** Poll interval for long-running operations (Azure suggests its own with Retry-After). */
  pollIntervalInMs?: number;
}

export interface InstanceRef {
  resourceGroup: string;
  /** The scale set of one server (one VMSS per server). */
  scaleSet: string;
  instanceId: string;
}

export interface InstanceSummary {
  instanceId: string;
  name: string;
  zone: string | undefined;
  provisioningState: string | undefined;
  powerState: string | undefined;
}

interface PollerDetails {
  pollerState?: string;
}

export function createComputeActivities(deps: ComputeDeps) {
  const { compute } = deps;

  /** Runs a long-running call, resuming the poller a previous attempt saved in its heartbeat. */
  async function longRunning(
    begin: (options: { resumeFrom?: string; updateIntervalInMs?: number }) => Promise<{
      toString(): string;
      onProgress(cb: () => void): unknown;
      pollUntilDone(o?: { abortSignal?: AbortSignal }): Promise<unknown>;
    }>,
  ): Promise<void> {
    const ctx = Context.current();
    const saved = (ctx.info.heartbeatDetails as PollerDetails | undefined)?.pollerState;
    const poller = await begin({ ...(saved ? { resumeFrom: saved } : {}), updateIntervalInMs: deps.pollIntervalInMs ?? 2_000 });
    ctx.heartbeat({ pollerState: poller.toString() } satisfies PollerDetails);
    poller.onProgress(() => ctx.heartbeat({ pollerState: poller.toString() } satisfies PollerDetails));
    await poller.pollUntilDone({ abortSignal: ctx.cancellationSignal });
  }

  return {
    listInstances: async (a: { resourceGroup: string; scaleSet: string }): Promise<InstanceSummary[]> => {
      const out: InstanceSummary[] = [];
      for await (const vm of compute.virtualMachineScaleSetVMs.list(a.resourceGroup, a.scaleSet, { expand: 'instanceView' })) {
        out.push({
          instanceId: vm.instanceId ?? '',
          name: vm.name ?? '',
          zone: vm.zones?.[0],
          provisioningState: vm.provisioningState,
          powerState: vm.instanceView?.statuses?.find((s) => s.code?.startsWith('PowerState/'))?.code?.slice('PowerState/'.length),
        });
      }
      return out;
    },

    getInstanceView: async (a: InstanceRef): Promise<{ powerState: string | undefined; statuses: string[] }> => {
      const view = await compute.virtualMachineScaleSetVMs.getInstanceView(a.resourceGroup, a.scaleSet, a.instanceId);
      const statuses = (view.statuses ?? []).map((s) => s.code ?? '');
      return { powerState: statuses.find((c) => c.startsWith('PowerState/'))?.slice('PowerState/'.length), statuses };
    },

    restartInstance: async (a: InstanceRef): Promise<void> => {
      await longRunning((o) => compute.virtualMachineScaleSetVMs.beginRestart(a.resourceGroup, a.scaleSet, a.instanceId, o));
    },

    reimageInstance: async (a: InstanceRef): Promise<void> => {
      await longRunning((o) => compute.virtualMachineScaleSetVMs.beginReimage(a.resourceGroup, a.scaleSet, a.instanceId, o));
    },
  };
}

export type ComputeActivities = ReturnType<typeof createComputeActivities>;
