// The `hcs` command line: global options, the command groups, and one place where every failure
// becomes its message on stderr and its exit code (errors.ts EXIT). commander parses; a bad flag,
// a missing argument or an unknown command is exit 1 before any request is made.
import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { clusterCommands } from './commands/cluster.js';
import { configCommands } from './commands/config.js';
import { federationCommands } from './commands/federation.js';
import { operationCommands } from './commands/operation.js';
import { snapshotCommands } from './commands/snapshot.js';
import { tokenCommands } from './commands/token.js';
import type { Io } from './context.js';
import { CliError, EXIT, formatError } from './errors.js';
import { OUTPUT_FORMATS } from './settings.js';

/** Not a CliError: a bug in the CLI (the message only, no stack, no request details). */
export const EXIT_INTERNAL = 8;

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function buildProgram(io: Io): Command {
  const program = new Command('hcs')
    .description('Manage HCS Consul clusters through the control plane API.')
    .version(version())
    .addOption(new Option('--endpoint <url>', 'API base URL, e.g. https://hcs.example.com').env('HCS_ENDPOINT'))
    .addOption(new Option('--ca-file <file>', "PEM CA bundle to trust for the API's certificate").env('HCS_CA_FILE'))
    .addOption(new Option('--token-file <file>', 'file holding the bearer token (mode 600); else HCS_TOKEN, else <config dir>/token'))
    .addOption(new Option('-s, --subscription <id>', 'subscription id').env('HCS_SUBSCRIPTION'))
    .addOption(new Option('-g, --resource-group <name>', 'resource group name').env('HCS_RESOURCE_GROUP'))
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table').env('HCS_OUTPUT'))
    .addOption(new Option('--no-progress', 'do not show progress while waiting for an operation'))
    .showHelpAfterError('(add --help for usage)');
  for (const group of [clusterCommands, snapshotCommands, configCommands, tokenCommands, operationCommands, federationCommands]) {
    program.addCommand(group(io));
  }
  configure(program, io);
  return program;
}

/** Every command writes through `io` and throws instead of exiting (so run() decides the exit code). */
function configure(cmd: Command, io: Io): void {
  cmd.exitOverride().configureOutput({
    writeOut: (s) => io.stdout.write(s),
    writeErr: (s) => io.stderr.write(s),
  });
  for (const sub of cmd.commands) configure(sub, io);
}

/** Runs one command line (without the node and script arguments) and returns its exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  try {
    await buildProgram(io).parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    // commander has printed its own message (or the help or version, which exit 0).
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof CliError) {
      io.stderr.write(formatError(err));
      return err.exitCode;
    }
    io.stderr.write(`error: internal error in hcs: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_INTERNAL;
  }
}
