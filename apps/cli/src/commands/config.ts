// hcs config get --out DIR: a cluster's client access (listClientConfig) as files: the Consul
// client agent configuration, the CA bundle clients trust and consul-k8s Helm values. They hold
// the gossip key, so they are written owner-only.
import { Command } from 'commander';
import { join } from 'node:path';
import type { ClientConfigView } from '../api-types.js';
import { action, type Io } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { ensureFolder, writeSecretFile } from './secret-files.js';

/** The files written, by what they hold. */
export const CLIENT_CONFIG_FILES = { clientConfig: 'client-config.json', caBundle: 'ca.pem', helmValues: 'helm-values.yaml' } as const;

export function configCommands(io: Io): Command {
  const cmd = new Command('config').description("a cluster's client configuration");

  cmd
    .command('get')
    .description('write the client agent configuration, the CA bundle and Helm values into a folder (mode 600: they hold the gossip key)')
    .argument('<cluster>', 'cluster name')
    .requiredOption('--out <dir>', 'folder to write into (made if missing)')
    .action(
      action(io, async (ctx, [cluster]) => {
        const out = String(ctx.options.out);
        const doc = await ctx.client().json<ClientConfigView>('POST', `${ctx.clusterPath(cluster!)}/listClientConfig`);
        let clientConfig: unknown;
        try {
          clientConfig = JSON.parse(doc.clientConfigJson);
        } catch {
          throw new CliError(EXIT.unavailable, 'the API answered a client configuration that is not JSON');
        }
        ensureFolder(out);
        const files = [
          {
            kind: 'client configuration',
            path: join(out, CLIENT_CONFIG_FILES.clientConfig),
            text: `${JSON.stringify(clientConfig, null, 2)}\n`,
          },
          { kind: 'CA bundle', path: join(out, CLIENT_CONFIG_FILES.caBundle), text: doc.caBundlePem },
          { kind: 'Helm values', path: join(out, CLIENT_CONFIG_FILES.helmValues), text: doc.helmValuesYaml },
        ];
        for (const f of files) writeSecretFile(f.path, f.text);
        const rows = files.map(({ kind, path }) => ({ kind, path }));
        ctx.print({ files: rows }, rows, [
          ['FILE', (r) => r.kind],
          ['PATH', (r) => r.path],
        ]);
      }),
    );

  return cmd;
}
