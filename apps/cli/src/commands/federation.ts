// hcs federation token|get: a WAN federation token from a primary cluster (shown once: to stdout,
// or only into --out, mode 600) and the federation a cluster belongs to.
import { Command } from 'commander';
import type { FederationTokenView, FederationView } from '../api-types.js';
import { action, type Io } from '../context.js';
import { writeSecretFile } from './secret-files.js';

export function federationCommands(io: Io): Command {
  const cmd = new Command('federation').description('WAN federation of clusters');

  cmd
    .command('token')
    .description('create a single-use token a new cluster presents to join this primary (hcs cluster create --federation-token-file)')
    .argument('<cluster>', 'the primary cluster')
    .option('--out <file>', 'write the token to this file (mode 600) instead of printing it')
    .action(
      action(io, async (ctx, [cluster]) => {
        const t = await ctx.client().json<FederationTokenView>('POST', `${ctx.clusterPath(cluster!)}/createFederationToken`);
        const out = ctx.options.out;
        if (typeof out === 'string') {
          writeSecretFile(out, `${t.federationToken}\n`);
          const shown = { tokenId: t.tokenId, expiresAt: t.expiresAt, tokenFile: out };
          ctx.print(
            shown,
            [shown],
            [
              ['TOKEN ID', (r) => r.tokenId],
              ['EXPIRES', (r) => r.expiresAt],
              ['TOKEN FILE', (r) => r.tokenFile],
            ],
          );
        } else {
          ctx.print(
            t,
            [t],
            [
              ['TOKEN ID', (r) => r.tokenId],
              ['EXPIRES', (r) => r.expiresAt],
              ['TOKEN', (r) => r.federationToken],
            ],
          );
        }
      }),
    );

  cmd
    .command('get')
    .description('show the federation: primary, secondaries and datacenters')
    .argument('<cluster>', 'any member cluster')
    .action(
      action(io, async (ctx, [cluster]) => {
        const f = await ctx.client().json<FederationView>('POST', `${ctx.clusterPath(cluster!)}/getFederation`);
        ctx.print(
          f,
          [f],
          [
            ['PRIMARY', (r) => r.primaryClusterId],
            ['SECONDARIES', (r) => r.secondaryClusterIds],
            ['DATACENTERS', (r) => r.datacenters],
          ],
        );
      }),
    );

  return cmd;
}
