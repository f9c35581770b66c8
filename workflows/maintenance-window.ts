// Waiting for the cluster's maintenance window, shared by every disruptive operation (upgrade,
// server restart and repair): unless forced, the operation waits (Scheduled, holding no lock, so
// certificate rotation and snapshots go on) until the window opens; an SRE may force it (start
// now) or defer it (hold until a time) by signal. Then it claims the one-operation lock, after
// whatever holds it ends; a wait of hours continues as new (history-budget.ts) keeping a force.
import { condition, defineSignal, setHandler, sleep } from '@temporalio/workflow';
import { workerFailure } from '../contract/errors.js';
import { UPGRADE_SIGNAL, type ClusterOperationInput } from '../contract/temporal.js';
import { nextWindow, type MaintenanceWindow } from '../domain/maintenance-window.js';
import { store, type Step } from './lifecycle.js';

/** SRE controls: start now whatever the window says, or hold the operation until a time. */
export const forceSignal = defineSignal(UPGRADE_SIGNAL.force);
export const deferSignal = defineSignal<[string]>(UPGRADE_SIGNAL.defer);

/** How often a ready operation asks again for the lock another operation holds. */
const CLAIM_RETRY = '15 seconds';

export interface MaintenanceControls {
  /** Whether the operation was forced (by its request or a signal). */
  readonly forced: boolean;
  /** Returns once the window is open (or there is none), the operation is forced, or a deferral passed. */
  waitForWindow(step: Step, window: MaintenanceWindow | undefined, percent: number): Promise<void>;
  /**
   * Takes the one-operation lock, asking again while another operation holds it; `continueAsNew`
   * is called after each refusal (it continues the run as new when its history is long).
   */
  claimLock(input: ClusterOperationInput, step: Step, percent: number, continueAsNew: () => Promise<void>): Promise<void>;
}

/** Installs the force and defer signal handlers; call once, at the start of the workflow. */
export function maintenanceControls(forcedByRequest: boolean): MaintenanceControls {
  let forced = forcedByRequest;
  let deferredUntil = 0;
  let changed = false;
  setHandler(forceSignal, () => {
    forced = true;
    changed = true;
  });
  setHandler(deferSignal, (until: string) => {
    const t = Date.parse(until);
    if (!Number.isNaN(t)) deferredUntil = t;
    changed = true;
  });
  return {
    get forced() {
      return forced;
    },
    async waitForWindow(step, window, percent) {
      for (;;) {
        const now = Date.now();
        if (forced) return;
        if (deferredUntil > now) {
          await step(`deferred until ${new Date(deferredUntil).toISOString()}`, percent);
          changed = false;
          await condition(() => changed || forced, deferredUntil - now);
          continue;
        }
        if (!window) return;
        const next = nextWindow(window, new Date(now));
        if (next.start.getTime() <= now) return;
        await step(`waiting for the maintenance window at ${next.start.toISOString()}`, percent);
        changed = false;
        await condition(() => changed || forced, next.start.getTime() - now);
      }
    },
    async claimLock(input, step, percent, continueAsNew) {
      for (;;) {
        const claim = await store.claimOperation({ operationId: input.operationId });
        if (claim.claimed) return;
        if (claim.ended) throw workerFailure('OperationEnded', claim.reason);
        await step(claim.reason, percent);
        await sleep(CLAIM_RETRY);
        await continueAsNew();
      }
    },
  };
}
