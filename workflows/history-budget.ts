// Loops that wait for something outside the workflow (an upgrade for the one-operation lock, a
// delete for the operations it cancelled) add events on every round. A run whose history has
// grown past the budget (or that Temporal asks to, continueAsNewSuggested) continues as new with
// the same input: each run stays small however long the wait, and the operation, its workflow id
// and its record carry on (lifecycle.ts operation() lets ContinueAsNew through unrecorded).
import { ContinueAsNew, continueAsNew, workflowInfo, type Workflow } from '@temporalio/workflow';

/** Events a waiting run may reach before it continues as new; well under our 1,000 per operation. */
export const HISTORY_BUDGET_EVENTS = 500;

/** Whether this run should continue as new at its next safe point. */
export function historyTooLong(): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength > HISTORY_BUDGET_EVENTS;
}

/** Continues as new with `args` when the history is past the budget; otherwise returns. */
export async function continueAsNewWhenLong<F extends Workflow>(...args: Parameters<F>): Promise<void> {
  if (historyTooLong()) await continueAsNew<F>(...args);
}

/** Whether `err` is a run continuing as new (not a failure of the operation). */
export const isContinueAsNew = (err: unknown): err is ContinueAsNew => err instanceof ContinueAsNew;
