// hcs cluster create|get|list|update|scale|delete|upgrade: the cluster resource (PUT, GET, PATCH,
// DELETE) and its upgrade action (POST .../upgrade). Changes are operations: followed to their
// end with progress, or returned at once with --no-wait.
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import type { ClusterView } from '../api-types.js';
import { clusterListPath } from '../client.js';
import { action, missingOperation, type CommandContext, type Io } from '../context.js';
import { usageError } from '../errors.js';
import { startedOperation } from '../operations.js';
import type { Column } from '../output.js';
import { intArg, keyValue, onOff } from './parse.js';

export const CLUSTER_COLUMNS: Column<ClusterView>[] = [
  ['NAME', (c) => c.name],
  ['LOCATION', (c) => c.location],
  ['STATE', (c) => c.properties.provisioningState],
  ['VERSION', (c) => c.properties.currentConsulVersion ?? c.properties.consulVersion],
  ['SERVERS', (c) => c.properties.serverCount],
  ['DATACENTER', (c) => c.properties.datacenter],
  ['ENDPOINT', (c) => c.properties.privateEndpointUrl],
];

export function printCluster(ctx: CommandContext, c: ClusterView): void {
  ctx.print(c, [c], CLUSTER_COLUMNS);
}

const noWait = () => new Option('--no-wait', 'return the operation at once instead of waiting for it to end');

export function clusterCommands(io: Io): Command {
  const cmd = new Command('cluster').description('create, read, change and delete Consul clusters');

  cmd
    .command('create')
    .description('create a cluster (never replaces one: an existing name is refused with 412)')
    .argument('<name>', 'cluster name')
    .requiredOption('-l, --location <region>', 'Azure region, e.g. westeurope')
    .option('--consul-version <version>', 'Consul version from the catalogue')
    .option('--servers <count>', 'number of servers: 1, 3 or 5', intArg)
    .option('--cidr <cidr>', 'the cluster network, /16 to /24')
    .option('--datacenter <name>', 'Consul datacenter name (default dc1)')
    .option('--public-endpoint', 'expose the Consul UI/API on a public endpoint')
    .option('--tag <key=value>', 'resource tag (repeatable)', keyValue)
    .option('--federation-token-file <file>', 'join the federation of the primary that issued this token (read from the file)')
    .addOption(noWait())
    .action(
      action(io, async (ctx, [name]) => {
        const o = ctx.options;
        const properties: Record<string, unknown> = {};
        if (o.consulVersion !== undefined) properties.consulVersion = o.consulVersion;
        if (o.servers !== undefined) properties.serverCount = o.servers;
        if (o.cidr !== undefined) properties.network = { cidr: o.cidr };
        if (o.datacenter !== undefined) properties.datacenter = o.datacenter;
        if (o.publicEndpoint) properties.publicEndpoint = true;
        if (typeof o.federationTokenFile === 'string') properties.federationToken = readSecretFile(o.federationTokenFile);
        const tags = (o.tag ?? {}) as Record<string, string>;
        const body = { location: o.location, ...(Object.keys(tags).length ? { tags } : {}), properties };
        const answer = await ctx.client().call('PUT', ctx.clusterPath(name!), { body, headers: { 'if-none-match': '*' } });
        const created = JSON.parse(answer.body) as ClusterView;
        const started = startedOperation(answer);
        if (!started) return printCluster(ctx, created);
        const done = await ctx.finish<ClusterView>(started, `create ${name}`);
        if (done) printCluster(ctx, done.result ?? (await getCluster(ctx, name!)));
      }),
    );

  cmd
    .command('get')
    .description('show a cluster')
    .argument('<name>', 'cluster name')
    .action(action(io, async (ctx, [name]) => printCluster(ctx, await getCluster(ctx, name!))));

  cmd
    .command('list')
    .description('list the clusters of the resource group, or of the subscription without one')
    .action(
      action(io, async (ctx) => {
        const clusters = await ctx.client().list<ClusterView>(clusterListPath(ctx.subscription(), ctx.settings().resourceGroup));
        ctx.print({ value: clusters }, clusters, CLUSTER_COLUMNS);
      }),
    );

  cmd
    .command('update')
    .description('change tags and day-2 settings (a merge patch; only what is given changes)')
    .argument('<name>', 'cluster name')
    .option('--tag <key=value>', 'replace the tags with these (repeatable)', keyValue)
    .option('--clear-tags', 'remove every tag')
    .option('--automatic-patch-upgrades <on|off>', 'apply patch releases automatically in the maintenance window', onOff)
    .option('--snapshot-interval <hours>', 'hours between automatic snapshots (1-24)', intArg)
    .option('--snapshot-retention <count>', 'automatic snapshots kept (1-30)', intArg)
    .option('--maintenance-days <days>', 'maintenance window days, e.g. Saturday,Sunday')
    .option('--maintenance-start <HH:MM>', 'maintenance window start time')
    .option('--maintenance-hours <hours>', 'maintenance window length (1-8)', intArg)
    .option('--maintenance-time-zone <zone>', 'IANA time zone of the window, e.g. Europe/Berlin')
    .option('--no-maintenance-window', 'remove the maintenance window (maintenance any time)')
    .option('--if-match <etag>', 'only if the cluster still has this ETag')
    .addOption(noWait())
    .action(
      action(io, async (ctx, [name]) => {
        const o = ctx.options;
        const properties: Record<string, unknown> = {};
        if (o.automaticPatchUpgrades !== undefined) properties.upgradePolicy = { automaticPatchUpgrades: o.automaticPatchUpgrades };
        const snapshotPolicy = pick({ intervalHours: o.snapshotInterval, retentionCount: o.snapshotRetention });
        if (snapshotPolicy) properties.snapshotPolicy = snapshotPolicy;
        const window = pick({
          days: typeof o.maintenanceDays === 'string' ? o.maintenanceDays.split(',').map((d) => d.trim()) : undefined,
          startTime: o.maintenanceStart,
          durationHours: o.maintenanceHours,
          timeZone: o.maintenanceTimeZone,
        });
        if (o.maintenanceWindow === false) {
          if (window) throw usageError('--no-maintenance-window cannot be combined with other --maintenance-* options');
          properties.maintenanceWindow = null;
        } else if (window) properties.maintenanceWindow = window;
        if (o.tag && o.clearTags) throw usageError('--tag and --clear-tags cannot be combined');
        const body: Record<string, unknown> = {};
        if (o.tag) body.tags = o.tag;
        if (o.clearTags) body.tags = {};
        if (Object.keys(properties).length) body.properties = properties;
        if (Object.keys(body).length === 0) throw usageError('nothing to change: give at least one option (see hcs cluster update --help)');
        await patch(ctx, name!, body, `update ${name}`, typeof o.ifMatch === 'string' ? o.ifMatch : undefined);
      }),
    );

  cmd
    .command('scale')
    .description('change the number of servers')
    .argument('<name>', 'cluster name')
    .requiredOption('--servers <count>', 'number of servers: 1, 3 or 5', intArg)
    .addOption(noWait())
    .action(
      action(io, async (ctx, [name]) => {
        await patch(ctx, name!, { properties: { serverCount: ctx.options.servers } }, `scale ${name}`, undefined);
      }),
    );

  cmd
    .command('delete')
    .description('delete a cluster and everything it holds')
    .argument('<name>', 'cluster name')
    .option('-y, --yes', 'confirm the deletion (required)')
    .addOption(noWait())
    .action(
      action(io, async (ctx, [name]) => {
        if (!ctx.options.yes) throw usageError(`deleting ${name} removes its servers, data and snapshots: add --yes to confirm`);
        const answer = await ctx.client().call('DELETE', ctx.clusterPath(name!));
        if (answer.status === 204) {
          ctx.note(`cluster ${name} does not exist; nothing to delete`);
          return;
        }
        const started = startedOperation(answer);
        if (!started) throw missingOperation(`the delete of ${name}`);
        const done = await ctx.finish(started, `delete ${name}`);
        if (done) ctx.printOperation(done.operation);
      }),
    );

  cmd
    .command('upgrade')
    .description('upgrade the Consul version, one server at a time (in the maintenance window unless --force)')
    .argument('<name>', 'cluster name')
    .option('--consul-version <version>', 'target version (see --list)')
    .option('--force', 'start now instead of waiting for the maintenance window')
    .option('--list', 'list the versions the cluster can move to')
    .addOption(noWait())
    .action(
      action(io, async (ctx, [name]) => {
        const o = ctx.options;
        if (o.list) {
          type Target = { version: string; status: string; kind: string };
          const { value } = await ctx.client().json<{ value: Target[] }>('POST', `${ctx.clusterPath(name!)}/listUpgradeVersions`);
          ctx.print({ value }, value, [
            ['VERSION', (t: Target) => t.version],
            ['KIND', (t: Target) => t.kind],
            ['STATUS', (t: Target) => t.status.replace('UPGRADE_VERSION_STATUS_', '')],
          ]);
          return;
        }
        if (typeof o.consulVersion !== 'string') throw usageError('give --consul-version VERSION (or --list to see the choices)');
        const answer = await ctx.client().call('POST', `${ctx.clusterPath(name!)}/upgrade`, {
          body: { consulVersion: o.consulVersion, ...(o.force ? { force: true } : {}) },
        });
        const started = startedOperation(answer);
        if (!started) throw missingOperation(`the upgrade of ${name}`);
        const done = await ctx.finish<ClusterView>(started, `upgrade ${name}`);
        if (done) printCluster(ctx, done.result ?? (await getCluster(ctx, name!)));
      }),
    );

  return cmd;
}

export async function getCluster(ctx: CommandContext, name: string): Promise<ClusterView> {
  return ctx.client().json<ClusterView>('GET', ctx.clusterPath(name));
}

/** PATCH: a tags-only change answers at once (200), anything else is an operation (202). */
async function patch(ctx: CommandContext, name: string, body: unknown, label: string, ifMatch: string | undefined): Promise<void> {
  const answer = await ctx
    .client()
    .call('PATCH', ctx.clusterPath(name), { body, ...(ifMatch ? { headers: { 'if-match': ifMatch } } : {}) });
  const started = startedOperation(answer);
  if (!started) return printCluster(ctx, JSON.parse(answer.body) as ClusterView);
  const done = await ctx.finish<ClusterView>(started, label);
  if (done) printCluster(ctx, done.result ?? (await getCluster(ctx, name)));
}

function pick(fields: Record<string, unknown>): Record<string, unknown> | undefined {
  const given = Object.entries(fields).filter(([, v]) => v !== undefined);
  return given.length ? Object.fromEntries(given) : undefined;
}

/** A secret handed over in a file (never on the command line, where `ps` shows it). */
export function readSecretFile(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw usageError(`${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
