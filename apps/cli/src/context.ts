// What every command's action gets: the merged options, the settings and credentials (resolved
// on first use, so `--help` and usage errors need neither), the API client, output in the
// chosen format, and long operations followed with progress or returned at once (--no-wait).
import type { Command } from 'commander';
import type { OperationView } from './api-types.js';
import { ApiClient, clusterPath } from './client.js';
import { resolveToken } from './credentials.js';
import { CliError, EXIT, usageError } from './errors.js';
import { followOperation, getOperation, type Followed, type StartedOperation } from './operations.js';
import { printValue, type Column, type Writer } from './output.js';
import { NO_PROGRESS, progressSink, type ProgressStream } from './progress.js';
import { configDir, readConfigFile, resolveSettings, type GlobalOptions, type Settings } from './settings.js';

export interface Io {
  stdout: Writer & { isTTY?: boolean };
  stderr: ProgressStream;
  env: NodeJS.ProcessEnv;
}

export const OPERATION_COLUMNS: Column<OperationView>[] = [
  ['OPERATION', (o) => o.name],
  ['KIND', (o) => o.properties.kind],
  ['STATUS', (o) => o.status],
  ['PERCENT', (o) => `${Math.round(o.percentComplete)}%`],
  ['STEP', (o) => o.properties.step],
  ['STARTED', (o) => o.startTime],
  ['ENDED', (o) => o.endTime],
];

export class CommandContext {
  private settingsCache?: Settings;
  private clientCache?: ApiClient;

  constructor(
    readonly io: Io,
    readonly options: GlobalOptions & Record<string, unknown>,
  ) {}

  settings(): Settings {
    this.settingsCache ??= resolveSettings(this.options, readConfigFile(configDir(this.io.env)));
    return this.settingsCache;
  }

  client(): ApiClient {
    if (!this.clientCache) {
      const s = this.settings();
      const { token } = resolveToken({
        ...(this.options.tokenFile ? { tokenFile: this.options.tokenFile } : {}),
        env: this.io.env,
        configDir: configDir(this.io.env),
      });
      this.clientCache = new ApiClient({ endpoint: s.endpoint, token, ...(s.ca ? { ca: s.ca } : {}) });
    }
    return this.clientCache;
  }

  subscription(): string {
    const s = this.settings().subscription;
    if (!s) throw usageError('no subscription: give --subscription ID, set HCS_SUBSCRIPTION, or put subscription in config.yaml');
    return s;
  }

  resourceGroup(): string {
    const g = this.settings().resourceGroup;
    if (!g) throw usageError('no resource group: give --resource-group NAME, set HCS_RESOURCE_GROUP, or put resourceGroup in config.yaml');
    return g;
  }

  clusterPath(name: string): string {
    return clusterPath(this.subscription(), this.resourceGroup(), name);
  }

  print<T>(value: unknown, rows: T[], columns: Column<T>[]): void {
    printValue(this.io.stdout, this.options.output, value, { rows, columns });
  }

  printOperation(op: OperationView): void {
    this.print(op, [op], OPERATION_COLUMNS);
  }

  /** A note for the person at the terminal (stderr; never part of the answer). */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  /**
   * The operation an answer started: with --no-wait its status document at once (and how to
   * watch it); else followed to its end with progress, returning what it produced.
   */
  async finish<R>(started: StartedOperation, label: string, o: { result?: boolean } = {}): Promise<Followed<R> | undefined> {
    const client = this.client();
    if (this.options.wait === false) {
      const op = await getOperation(client, started);
      this.printOperation(op);
      this.note(`operation ${op.name} is ${op.status}; follow it with: hcs operation watch ${op.id}`);
      return undefined;
    }
    const progress = this.options.progress === false ? NO_PROGRESS : progressSink(this.io.stderr, label);
    return followOperation<R>(client, started, { progress, ...(o.result === false ? { result: false } : {}) });
  }
}

/** Wraps a command's action: builds its context from the merged options and passes the positional arguments. */
export function action(io: Io, fn: (ctx: CommandContext, args: string[]) => Promise<void>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    const options = command.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
    await fn(new CommandContext(io, options), command.processedArgs as string[]);
  };
}

/** For answers that must carry an operation and did not (a contract break, not a user error). */
export function missingOperation(what: string): CliError {
  return new CliError(EXIT.unavailable, `the API accepted ${what} but named no operation to follow`);
}
