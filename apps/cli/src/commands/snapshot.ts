// hcs snapshot create|list|get|rename|restore|delete: the snapshot actions of a cluster
// (POST .../clusters/{name}/{action}). Taking, restoring and deleting a snapshot are operations.
import { Command, Option } from 'commander';
import type { ClusterView, SnapshotView } from '../api-types.js';
import { action, missingOperation, type CommandContext, type Io } from '../context.js';
import { startedOperation } from '../operations.js';
import type { Column } from '../output.js';
import { printCluster } from './cluster.js';

export const SNAPSHOT_COLUMNS: Column<SnapshotView>[] = [
  ['ID', (s) => s.id],
  ['NAME', (s) => s.name],
  ['TYPE', (s) => s.type.replace('SNAPSHOT_TYPE_', '')],
  ['STATE', (s) => s.state.replace('SNAPSHOT_STATE_', '')],
  ['SIZE', (s) => s.sizeBytes],
  ['CONSUL', (s) => s.consulVersion],
  ['REQUESTED', (s) => s.requestedAt],
  ['FINISHED', (s) => s.finishedAt],
];

const noWait = () => new Option('--no-wait', 'return the operation at once instead of waiting for it to end');

function printSnapshot(ctx: CommandContext, s: SnapshotView): void {
  ctx.print(s, [s], SNAPSHOT_COLUMNS);
}

export function snapshotCommands(io: Io): Command {
  const cmd = new Command('snapshot').description("take, list, rename, restore and delete a cluster's snapshots");

  cmd
    .command('create')
    .description('take a MANUAL snapshot now')
    .argument('<cluster>', 'cluster name')
    .option('--name <name>', 'display name (default manual-<time>)')
    .addOption(noWait())
    .action(
      action(io, async (ctx, [cluster]) => {
        const body = typeof ctx.options.name === 'string' ? { name: ctx.options.name } : {};
        const answer = await ctx.client().call('POST', `${ctx.clusterPath(cluster!)}/createSnapshot`, { body });
        const started = startedOperation(answer);
        if (!started) throw missingOperation(`the snapshot of ${cluster}`);
        const done = await ctx.finish<{ snapshot: SnapshotView }>(started, `snapshot ${cluster}`);
        if (done?.result) printSnapshot(ctx, done.result.snapshot);
        else if (done) ctx.printOperation(done.operation);
      }),
    );

  cmd
    .command('list')
    .description('list the snapshots, newest first')
    .argument('<cluster>', 'cluster name')
    .action(
      action(io, async (ctx, [cluster]) => {
        const value = await ctx.client().list<SnapshotView>(`${ctx.clusterPath(cluster!)}/listSnapshots`, 'POST');
        ctx.print({ value }, value, SNAPSHOT_COLUMNS);
      }),
    );

  cmd
    .command('get')
    .description('show one snapshot')
    .argument('<cluster>', 'cluster name')
    .argument('<snapshot-id>', 'snapshot id (from snapshot list)')
    .action(
      action(io, async (ctx, [cluster, snapshotId]) => {
        const { snapshot } = await ctx.client().json<{ snapshot: SnapshotView }>('POST', `${ctx.clusterPath(cluster!)}/getSnapshot`, {
          body: { snapshotId },
        });
        printSnapshot(ctx, snapshot);
      }),
    );

  cmd
    .command('rename')
    .description("change a snapshot's display name")
    .argument('<cluster>', 'cluster name')
    .argument('<snapshot-id>', 'snapshot id')
    .argument('<new-name>', 'the new display name')
    .action(
      action(io, async (ctx, [cluster, snapshotId, name]) => {
        const { snapshot } = await ctx.client().json<{ snapshot: SnapshotView }>('POST', `${ctx.clusterPath(cluster!)}/renameSnapshot`, {
          body: { snapshotId, name },
        });
        printSnapshot(ctx, snapshot);
      }),
    );

  cmd
    .command('restore')
    .description('restore a COMPLETED snapshot into the cluster (takes a snapshot first unless --no-snapshot-first)')
    .argument('<cluster>', 'cluster name')
    .argument('<snapshot-id>', 'snapshot id')
    .option('--no-snapshot-first', 'do not take a snapshot before restoring')
    .addOption(noWait())
    .action(
      action(io, async (ctx, [cluster, snapshotId]) => {
        const answer = await ctx.client().call('POST', `${ctx.clusterPath(cluster!)}/restoreSnapshot`, {
          body: { snapshotId, takeSnapshotFirst: ctx.options.snapshotFirst !== false },
        });
        const started = startedOperation(answer);
        if (!started) throw missingOperation(`the restore of ${cluster}`);
        const done = await ctx.finish<ClusterView>(started, `restore ${cluster}`);
        if (done?.result) printCluster(ctx, done.result);
        else if (done) ctx.printOperation(done.operation);
      }),
    );

  cmd
    .command('delete')
    .description('delete a snapshot and its stored data')
    .argument('<cluster>', 'cluster name')
    .argument('<snapshot-id>', 'snapshot id')
    .addOption(noWait())
    .action(
      action(io, async (ctx, [cluster, snapshotId]) => {
        const answer = await ctx.client().call('POST', `${ctx.clusterPath(cluster!)}/deleteSnapshot`, { body: { snapshotId } });
        const started = startedOperation(answer);
        if (!started) throw missingOperation(`the snapshot delete on ${cluster}`);
        const done = await ctx.finish(started, `delete snapshot ${snapshotId}`);
        if (done) ctx.printOperation(done.operation);
      }),
    );

  return cmd;
}
