// The compute activity: a cluster's server instances through the official @azure/arm-compute
// client (real Azure in production, the local twin in development, unmodified). Long-running
// calls save their poller's state in the activity's heartbeat, so a retried activity resumes
// the same Azure operation instead of starting another restart or reimage.
import { Context } from '@temporalio/activity';
import { restorePoller, type ComputeManagementClient } from '@azure/arm-compute';

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

/** What we use of the SDK's long-running-operation poller (its own core-lro version's PollerLike). */
interface Poller {
  submitted(): Promise<void>;
  serialize(): Promise<string>;
  onProgress(callback: () => void): unknown;
  pollUntilDone(options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

export function createComputeActivities(deps: ComputeDeps) {
  const { compute } = deps;

  /**
   * Runs a long-running call, or (on a retry) resumes the poller a previous attempt saved in its
   * heartbeat, so the operation is submitted to Azure once however often the activity runs.
   */
  async function longRunning(
    start: (o: { updateIntervalInMs: number; abortSignal: AbortSignal }) => Poller,
    source: Parameters<typeof restorePoller>[2],
  ): Promise<void> {
    const ctx = Context.current();
    const saved = (ctx.info.heartbeatDetails as PollerDetails | undefined)?.pollerState;
    const options = { updateIntervalInMs: deps.pollIntervalInMs ?? 2_000, abortSignal: ctx.cancellationSignal };
    const poller: Poller = saved ? restorePoller(compute, saved, source, options) : start(options);
    await poller.submitted();
    ctx.heartbeat({ pollerState: await poller.serialize() } satisfies PollerDetails);
    poller.onProgress(() => void poller.serialize().then((pollerState) => ctx.heartbeat({ pollerState } satisfies PollerDetails)));
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
      await longRunning(
        (o) => compute.virtualMachineScaleSetVMs.restart(a.resourceGroup, a.scaleSet, a.instanceId, o),
        compute.virtualMachineScaleSetVMs.restart,
      );
    },

    reimageInstance: async (a: InstanceRef): Promise<void> => {
      await longRunning(
        (o) => compute.virtualMachineScaleSetVMs.reimage(a.resourceGroup, a.scaleSet, a.instanceId, o),
        compute.virtualMachineScaleSetVMs.reimage,
      );
    },
  };
}

export type ComputeActivities = ReturnType<typeof createComputeActivities>;
