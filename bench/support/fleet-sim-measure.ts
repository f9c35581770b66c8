// Fleet simulation, benchmark only: what bench/fleet-scale.ts measures. Firing lag: every
// workflow a snapshot or certificate firing started carries its nominal time in its id (Temporal
// appends it to a schedule's workflow id; the fleet design names its workflows the same way), so
// lag = the workflow's start time (Temporal's record) minus that time, and the completion lag its
// close time minus that time. Worker usage comes from the worker process (fleet-sim-worker.ts);
// database growth from pg_database_size.
import type { Client } from '@temporalio/client';
import pg from 'pg';
import { CERTIFICATE_SCHEDULE_WORKFLOW, SNAPSHOT_SCHEDULE_WORKFLOW } from '../../contract/temporal.js';

/** The nominal time a scheduled workflow's id ends with (`...-2026-12-03T07:00:00Z`), ms since the epoch. */
export function nominalTimeOf(workflowId: string): number | undefined {
  const m = /-(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)$/.exec(workflowId);
  return m ? Date.parse(m[1]!) : undefined;
}

export interface Firing {
  workflowId: string;
  type: string;
  nominal: number;
  startLagMs: number;
  /** Close time minus nominal time; undefined while it runs. */
  closeLagMs?: number;
  status: string;
}

/** The firings whose nominal time is in [fromMs, toMs), as Temporal's visibility lists them. */
export async function listFirings(client: Client, fromMs: number, toMs: number): Promise<Firing[]> {
  const since = new Date(fromMs - 5 * 60_000).toISOString();
  const query = `(WorkflowType = "${SNAPSHOT_SCHEDULE_WORKFLOW}" OR WorkflowType = "${CERTIFICATE_SCHEDULE_WORKFLOW}") AND StartTime >= "${since}"`;
  const out: Firing[] = [];
  for await (const wf of client.workflow.list({ query })) {
    const nominal = nominalTimeOf(wf.workflowId);
    if (nominal === undefined || nominal < fromMs || nominal >= toMs) continue;
    out.push({
      workflowId: wf.workflowId,
      type: wf.type,
      nominal,
      startLagMs: wf.startTime.getTime() - nominal,
      ...(wf.closeTime ? { closeLagMs: wf.closeTime.getTime() - nominal } : {}),
      status: wf.status.name,
    });
  }
  return out;
}

/** The p-th percentile (0-100, nearest rank) of `values`; NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Sizes in bytes of the named databases on the PostgreSQL server at `url`. */
export async function databaseSizes(url: string, names: string[]): Promise<Record<string, number>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const out: Record<string, number> = {};
    for (const n of names) {
      const r = await c.query<{ size: string }>('SELECT pg_database_size($1) AS size', [n]);
      out[n] = Number(r.rows[0]!.size);
    }
    return out;
  } finally {
    await c.end();
  }
}
