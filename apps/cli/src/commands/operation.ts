// hcs operation list|watch|cancel: a cluster's operations, following one to its end with
// progress (and what it produced), and asking for one to be canceled. An operation is named by
// its id as `--no-wait` prints it (the status path /subscriptions/.../operationStatuses/{id}),
// or by its bare id with --location, or with --cluster (found among the cluster's operations).
import { Command, Option } from 'commander';
import type { OperationView } from '../api-types.js';
import { operationStatusPath } from '../client.js';
import { action, OPERATION_COLUMNS, type CommandContext, type Io } from '../context.js';
import { CliError, EXIT, usageError } from '../errors.js';
import { operationUrls } from '../operations.js';

const STATUS_PATH = /^\/subscriptions\/[^/]+\/providers\/HCS\.Consul\/locations\/[^/]+\/operationStatuses\/[^/?]+$/i;

export function operationCommands(io: Io): Command {
  const cmd = new Command('operation').description("a cluster's long-running operations");

  const reference = (c: Command) =>
    c
      .argument('<operation>', 'operation id: the status path --no-wait printed, or the bare id with --location or --cluster')
      .addOption(new Option('--location <region>', "the operation's location (the cluster's region), with a bare id"))
      .addOption(new Option('--cluster <name>', "the operation's cluster, with a bare id").conflicts('location'));

  cmd
    .command('list')
    .description('list the operations of a cluster, newest first')
    .argument('<cluster>', 'cluster name')
    .action(
      action(io, async (ctx, [cluster]) => {
        const ops = await ctx.client().list<OperationView>(`${ctx.clusterPath(cluster!)}/operations`);
        ctx.print({ value: ops }, ops, OPERATION_COLUMNS);
      }),
    );

  reference(cmd.command('watch').description('follow an operation to its end with progress, then print what it produced')).action(
    action(io, async (ctx, [ref]) => {
      const statusPath = await resolveOperation(ctx, ref!);
      const done = await ctx.finish<unknown>(operationUrls(statusPath), `operation ${statusPath.split('/').at(-1)}`);
      if (!done) return;
      if (done.result === undefined) ctx.printOperation(done.operation);
      else
        ctx.print(
          done.result,
          [{ operation: done.operation.name, status: done.operation.status }],
          [
            ['OPERATION', (r) => r.operation],
            ['STATUS', (r) => r.status],
          ],
        );
    }),
  );

  reference(cmd.command('cancel').description('ask for a running operation to be canceled (it goes Canceling, then Canceled)')).action(
    action(io, async (ctx, [ref]) => {
      const statusPath = await resolveOperation(ctx, ref!);
      const op = await ctx.client().json<OperationView>('POST', `${statusPath}/cancel`);
      ctx.printOperation(op);
    }),
  );

  return cmd;
}

/** The status path of the operation a reference names. */
async function resolveOperation(ctx: CommandContext, ref: string): Promise<string> {
  const path = ref.split('?')[0]!;
  if (path.startsWith('/')) {
    if (!STATUS_PATH.test(path))
      throw usageError(
        `"${ref.slice(0, 120)}" is not an operation status path (/subscriptions/{sub}/providers/HCS.Consul/locations/{location}/operationStatuses/{id})`,
      );
    return path;
  }
  const { location, cluster } = ctx.options;
  if (typeof location === 'string') return operationStatusPath(ctx.subscription(), location, ref);
  if (typeof cluster === 'string') {
    const ops = await ctx.client().list<OperationView>(`${ctx.clusterPath(cluster)}/operations`);
    const op = ops.find((o) => o.name === ref);
    if (!op) throw new CliError(EXIT.notFound, `cluster ${cluster} has no operation ${ref}`, { code: 'ResourceNotFound' });
    return op.id;
  }
  throw usageError('a bare operation id needs --location REGION or --cluster NAME (or give the status path --no-wait printed)');
}
