// hcs token rotate: createRootToken, an operation whose result is the new root token (shown once
// by the API, within 15 minutes). The secret goes to stdout, or only into --secret-file (mode 600)
// when given; the previous root token stops working.
import { Command, Option } from 'commander';
import type { RootTokenView } from '../api-types.js';
import { action, missingOperation, type Io } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { startedOperation } from '../operations.js';
import { writeSecretFile } from './secret-files.js';

export function tokenCommands(io: Io): Command {
  const cmd = new Command('token').description("a cluster's Consul root token");

  cmd
    .command('rotate')
    .description('create a new root token (the previous one stops working); it is shown once')
    .argument('<cluster>', 'cluster name')
    .option('--secret-file <file>', 'write the secret id to this file (mode 600) instead of printing it')
    .addOption(new Option('--no-wait', 'return the operation at once; its result (hcs operation watch) shows the token once'))
    .action(
      action(io, async (ctx, [cluster]) => {
        const answer = await ctx.client().call('POST', `${ctx.clusterPath(cluster!)}/createRootToken`);
        const started = startedOperation(answer);
        if (!started) throw missingOperation(`the root token rotation of ${cluster}`);
        const done = await ctx.finish<RootTokenView>(started, `rotate ${cluster}`);
        if (!done) return;
        if (!done.result) throw new CliError(EXIT.unavailable, `operation ${done.operation.name} succeeded without a token`);
        const { accessorId, secretId } = done.result;
        const secretFile = ctx.options.secretFile;
        if (typeof secretFile === 'string') {
          writeSecretFile(secretFile, `${secretId}\n`);
          ctx.print(
            { accessorId, secretFile },
            [{ accessorId, secretFile }],
            [
              ['ACCESSOR', (r) => r.accessorId],
              ['SECRET FILE', (r) => r.secretFile],
            ],
          );
        } else {
          ctx.print(
            { accessorId, secretId },
            [{ accessorId, secretId }],
            [
              ['ACCESSOR', (r) => r.accessorId],
              ['SECRET', (r) => r.secretId],
            ],
          );
        }
      }),
    );

  return cmd;
}
