// The consul-cluster Terraform module (terraform/modules/consul-cluster) with no cloud and no
// network: formatting, validation of the module and both examples, the placement rules applied on
// their own, the variable checks, an offline plan, and a full apply/plan/destroy of the local-twin
// example against a minimal Resource Manager stand-in served by this file (HTTPS on loopback,
// ADFS-style token endpoint). The stand-in records every request, so the tests see exactly what
// the module asks of ARM: paths, api-versions and bodies.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, toolPaths } from '../../scripts/toolchain.mjs';

const run = promisify(execFile);
const tools = toolPaths();
const work = mkdtempSync(join(tmpdir(), 'hcs-tf-module-'));
const tree = join(work, 'terraform');

// Any network use would go through this proxy, which refuses every connection: a command that
// succeeds under it did not need the network. (Go never proxies loopback addresses, so the
// stand-in below is reached directly.)
const offlineEnv: NodeJS.ProcessEnv = {
  ...process.env,
  TF_CLI_CONFIG_FILE: tools.terraformConfig.cliConfigFile,
  CHECKPOINT_DISABLE: '1',
  TF_IN_AUTOMATION: '1',
  HTTP_PROXY: 'http://127.0.0.1:9',
  HTTPS_PROXY: 'http://127.0.0.1:9',
  NO_PROXY: '',
};
for (const name of Object.keys(offlineEnv)) if (name.startsWith('ARM_') || name.startsWith('TF_VAR_')) delete offlineEnv[name];

interface TfResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function tf(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<TfResult> {
  try {
    const { stdout, stderr } = await run(tools.terraform, args, { cwd, env: { ...offlineEnv, ...env }, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

async function tfOk(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const result = await tf(cwd, args, env);
  expect(result.code, `terraform ${args.join(' ')}\n${result.stderr}\n${result.stdout}`).toBe(0);
  return result.stdout;
}

const dir = (path: string) => join(tree, path);
const MODULE = 'modules/consul-cluster';
const PLACEMENT = 'modules/consul-cluster/placement';
const TWIN = 'examples/local-twin';
const AZURE = 'examples/azure';

const SUBSCRIPTION = '3f1c5a7e-0000-4000-8000-00000000c0de';
const STORAGE_ACCOUNT_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-hcs-control/providers/Microsoft.Storage/storageAccounts/hcsclusters`;
const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl sre@hcs';

// What the local-twin example needs besides the endpoint: a 5-server cluster with the public endpoint.
const clusterVars = {
  subscription_id: SUBSCRIPTION,
  cluster_name: 'orders',
  cluster_id: '0123456789abcdef0123456789abcdef',
  location: 'westeurope',
  resource_group_name: 'rg-orders',
  vnet_cidr: '10.20.0.0/16',
  server_count: 5,
  consul_version: '1.22.7',
  datacenter: 'dc1',
  public_endpoint: true,
  admin_ssh_public_key: SSH_KEY,
  storage_account_id: STORAGE_ACCOUNT_ID,
  blob_account_url: 'http://127.0.0.1:10000/devstoreaccount1',
  blob_container: 'cluster-orders',
  tags: { environment: 'test' },
};

function twinVars(endpoint: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    arm_endpoint: endpoint,
    authority_host: endpoint,
    tenant_id: 'adfs',
    client_id: 'hcs-worker',
    client_secret: 'twin-only-client-secret',
    ...clusterVars,
    ...overrides,
  };
}

/** Errors of a `terraform … -json` run, whitespace-normalised. */
function diagnostics(stdout: string): Array<{ summary: string; detail: string }> {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))
    .filter((entry) => entry.type === 'diagnostic' && entry.diagnostic.severity === 'error')
    .map((entry) => ({ summary: entry.diagnostic.summary, detail: String(entry.diagnostic.detail ?? '').replace(/\s+/g, ' ') }));
}

function decodeCustomData(customData: string): unknown {
  return JSON.parse(Buffer.from(customData, 'base64').toString('utf8'));
}

/** The whole host-manager document for server `index` of a cluster: paths and ids only. */
function expectedHostConfig(cluster: string, index: number, clientId: string, accountUrl: string, container: string) {
  return {
    version: 1,
    blob: { accountUrl, container, serverPrefix: `servers/${index}/` },
    identity: { clientId },
    cluster: { name: cluster, datacenter: 'dc1', serverIndex: index, zone: String((index % 3) + 1) },
  };
}

/** Only with the public endpoint: one public IP and one load balancer for the whole cluster. */
const PUBLIC_ENDPOINT_RESOURCES = ['module.cluster.azapi_resource.public_ip[0]', 'module.cluster.azapi_resource.load_balancer[0]'];

/** What the stand-in allocates to a public IP (TEST-NET-3). */
const PUBLIC_ADDRESS = '203.0.113.10';

const SECRETISH = /secret|password|token|sig=|sas|accountkey|-----BEGIN|gossip|encrypt/i;

beforeAll(async () => {
  // A copy of the tree: init writes .terraform/ and lock files, which stay out of the checkout.
  cpSync(join(repoRoot, 'terraform'), tree, {
    recursive: true,
    filter: (source) => !['.terraform', '.terraform.lock.hcl', 'terraform.tfstate'].includes(basename(source)),
  });
  await Promise.all(
    [MODULE, PLACEMENT, TWIN, AZURE].map((path) => tfOk(dir(path), ['init', '-backend=false', '-input=false', '-no-color'])),
  );
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('static checks', () => {
  it('is formatted (terraform fmt -check -recursive terraform/)', async () => {
    const result = await tf(repoRoot, ['fmt', '-check', '-recursive', '-diff', '-no-color', 'terraform']);
    expect(result.code, `unformatted files:\n${result.stdout}${result.stderr}`).toBe(0);
  });

  it.each([MODULE, PLACEMENT, TWIN, AZURE])('%s validates with no warning', async (path) => {
    const out = JSON.parse(await tfOk(dir(path), ['validate', '-json', '-no-color']));
    expect(out.diagnostics).toEqual([]);
    expect(out.valid).toBe(true);
  });

  it('the module itself configures no provider and holds no credential', () => {
    for (const file of ['main.tf', 'variables.tf', 'outputs.tf', 'versions.tf', 'placement/main.tf']) {
      const text = readFileSync(join(repoRoot, 'terraform', MODULE, file), 'utf8');
      expect(text, file).not.toMatch(/^\s*provider\s+"/m);
      expect(text, file).not.toMatch(/client_secret|use_msi|subscription_id\s*=\s*"/);
    }
  });
});

describe('placement (applied on its own, no provider at all)', () => {
  const clientId = 'c0ffee00-1111-4222-8333-444455556666';
  const apply = async (serverCount: number) => {
    const vars = [
      ['cluster_name', 'orders'],
      ['server_count', String(serverCount)],
      ['datacenter', 'dc1'],
      ['blob_account_url', 'https://hcsclusters.blob.core.windows.net'],
      ['blob_container', 'cluster-orders'],
      ['identity_client_id', clientId],
    ].flatMap(([name, value]) => ['-var', `${name}=${value}`]);
    await tfOk(dir(PLACEMENT), ['apply', '-auto-approve', '-input=false', '-no-color', ...vars]);
    const out = JSON.parse(await tfOk(dir(PLACEMENT), ['output', '-json']));
    // Same inputs again: nothing to change, the result is deterministic.
    const again = await tf(dir(PLACEMENT), ['plan', '-detailed-exitcode', '-input=false', '-no-color', ...vars]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    return out as {
      names: { value: string[] };
      zones: { value: string[] };
      servers: { value: Array<{ index: number; name: string; zone: string; host_config: unknown; custom_data: string }> };
    };
  };

  it('puts 5 servers in zones 1, 2, 3, 1, 2 with stable names', async () => {
    const out = await apply(5);
    expect(out.zones.value).toEqual(['1', '2', '3', '1', '2']);
    expect(out.names.value).toEqual(['orders-server-0', 'orders-server-1', 'orders-server-2', 'orders-server-3', 'orders-server-4']);
    expect(out.servers.value.map((s) => [s.index, s.name, s.zone])).toEqual([
      [0, 'orders-server-0', '1'],
      [1, 'orders-server-1', '2'],
      [2, 'orders-server-2', '3'],
      [3, 'orders-server-3', '1'],
      [4, 'orders-server-4', '2'],
    ]);
  });

  it.each([
    [1, ['1']],
    [3, ['1', '2', '3']],
  ])('puts %i server(s) in zones %j', async (count, zones) => {
    expect((await apply(count)).zones.value).toEqual(zones);
  });

  it('gives each server customData that decodes to its blob prefix and ids, nothing secret', async () => {
    const out = await apply(5);
    for (const server of out.servers.value) {
      const decoded = decodeCustomData(server.custom_data);
      expect(decoded).toEqual(
        expectedHostConfig('orders', server.index, clientId, 'https://hcsclusters.blob.core.windows.net', 'cluster-orders'),
      );
      expect(server.host_config).toEqual(decoded);
      expect(JSON.stringify(decoded)).not.toMatch(SECRETISH);
    }
  });
});

interface PlannedChange {
  address: string;
  change: { actions: string[]; after: Record<string, any> };
}

describe('offline plans: variable validation and what the module plans', () => {
  // A plan that only creates reads nothing from ARM, so an endpoint that refuses every
  // connection is enough: these plans prove the module needs no cloud to be checked.
  const writeVars = (path: string, vars: Record<string, unknown>) =>
    writeFileSync(join(dir(path), 'terraform.tfvars.json'), JSON.stringify(vars));

  const plan = async (overrides: Record<string, unknown>) => {
    writeVars(TWIN, twinVars('https://127.0.0.1:9/', overrides));
    const result = await tf(dir(TWIN), ['plan', '-json', '-input=false', '-lock=false']);
    return { ...result, errors: diagnostics(result.stdout) };
  };

  const plannedChanges = async (path: string): Promise<PlannedChange[]> => {
    await tfOk(dir(path), ['plan', '-input=false', '-lock=false', '-no-color', '-out=plan.bin']);
    return JSON.parse(await tfOk(dir(path), ['show', '-json', 'plan.bin'])).resource_changes;
  };

  const created = (changes: PlannedChange[]) => changes.filter((c) => c.change.actions.includes('create')).map((c) => c.address);
  const resource = (changes: PlannedChange[], address: string) => changes.find((c) => c.address === `module.cluster.${address}`);

  const ALL_RESOURCES = [
    'module.cluster.azapi_resource.resource_group[0]',
    'module.cluster.azapi_resource.nsg',
    'module.cluster.azapi_resource.vnet',
    'module.cluster.azapi_resource.identity',
    'module.cluster.azapi_resource.blob_reader',
    ...[0, 1, 2, 3, 4].map((i) => `module.cluster.azapi_resource.server["orders-server-${i}"]`),
  ];

  it.each([
    [{ server_count: 4 }, 'server_count must be 1, 3 or 5'],
    [{ server_count: 2 }, 'server_count must be 1, 3 or 5'],
    [{ vnet_cidr: '8.8.0.0/16' }, 'vnet_cidr must lie inside a private range (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)'],
    [{ vnet_cidr: '172.32.0.0/16' }, 'vnet_cidr must lie inside a private range'],
    [{ vnet_cidr: '10.0.0.0/8' }, 'vnet_cidr must have a prefix length from /16 to /24'],
    [{ vnet_cidr: '10.0.0.0/25' }, 'vnet_cidr must have a prefix length from /16 to /24'],
    [{ vnet_cidr: '/8' }, 'vnet_cidr must be an IPv4 CIDR such as "10.0.0.0/16"'],
    [{ vnet_cidr: '010.0.0.0/16' }, 'vnet_cidr must be an IPv4 CIDR such as "10.0.0.0/16"'],
    [{ vnet_cidr: '10.1.2.0/16' }, 'vnet_cidr must have all host bits zero'],
    [{ cluster_name: 'Orders' }, 'cluster_name must be 3-48 characters'],
    [{ cluster_id: '0123456789ABCDEF0123456789ABCDEF' }, 'cluster_id must be 32 lower-case hexadecimal digits'],
    [
      { blob_account_url: 'https://a.blob.core.windows.net/?sv=2024&sig=abc' },
      'blob_account_url must be an http(s) URL without query string',
    ],
    [{ blob_container: 'Cluster_Orders' }, 'blob_container must be a blob container name'],
  ])('%j is refused: %s', async (overrides, message) => {
    const result = await plan(overrides);
    expect(result.code).toBe(1);
    // One mistake, one message: the later CIDR rules stay quiet when an earlier one failed.
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]?.summary).toBe('Invalid value for variable');
    expect(result.errors[0]?.detail).toContain(message);
  });

  it('plans the cluster: NSG admits Consul ports from the VNet only, 8501 from the Internet only with the public endpoint', async () => {
    const nsgRules = async (publicEndpoint: boolean) => {
      expect((await plan({ public_endpoint: publicEndpoint })).errors).toEqual([]);
      const changes = await plannedChanges(TWIN);
      expect(created(changes).sort()).toEqual([...ALL_RESOURCES, ...(publicEndpoint ? PUBLIC_ENDPOINT_RESOURCES : [])].sort());
      expect(resource(changes, 'azapi_resource.blob_reader')?.change.after.parent_id).toBe(
        `${STORAGE_ACCOUNT_ID}/blobServices/default/containers/cluster-orders`,
      );
      // Every taggable resource carries the cluster's id.
      for (const c of changes.filter((x) => x.change.actions.includes('create') && !x.address.endsWith('.blob_reader')))
        expect(c.change.after.tags, c.address).toMatchObject({ 'hcs-cluster': 'orders', 'hcs-cluster-id': clusterVars.cluster_id });
      const body = resource(changes, 'azapi_resource.nsg')?.change.after.body;
      return JSON.parse(body).properties.securityRules as Array<{ name: string; properties: Record<string, any> }>;
    };

    const privateOnly = await nsgRules(false);
    const allows = privateOnly.filter((r) => r.properties.access === 'Allow');
    expect(allows.map((r) => `${r.properties.protocol}/${r.properties.destinationPortRange}`).sort()).toEqual(
      ['Tcp/8300', 'Tcp/8301', 'Udp/8301', 'Tcp/8302', 'Udp/8302', 'Tcp/8501', 'Tcp/8503'].sort(),
    );
    for (const rule of allows) {
      expect(rule.properties).toMatchObject({
        direction: 'Inbound',
        sourceAddressPrefix: '10.20.0.0/16',
        destinationAddressPrefix: '10.20.0.0/18',
      });
    }
    const deny = privateOnly.filter((r) => r.properties.access === 'Deny');
    expect(deny.map((r) => r.properties)).toEqual([
      expect.objectContaining({ sourceAddressPrefix: '*', destinationPortRange: '*', priority: 4000 }),
    ]);
    expect(Math.max(...allows.map((r) => Number(r.properties.priority)))).toBeLessThan(4000);

    const withPublic = await nsgRules(true);
    const fromInternet = withPublic.filter((r) => r.properties.sourceAddressPrefix === 'Internet');
    expect(fromInternet.map((r) => [r.properties.access, r.properties.protocol, r.properties.destinationPortRange])).toEqual([
      ['Allow', 'Tcp', '8501'],
    ]);
    // And the load balancer's health probe, from Azure's probe address only.
    const probe = withPublic.filter((r) => r.properties.sourceAddressPrefix === 'AzureLoadBalancer');
    expect(probe.map((r) => [r.properties.access, r.properties.protocol, r.properties.destinationPortRange])).toEqual([
      ['Allow', 'Tcp', '8501'],
    ]);
    expect(withPublic).toHaveLength(privateOnly.length + 2);
  });

  it('uses a given resource group instead of creating one', async () => {
    expect((await plan({ create_resource_group: false, server_count: 3 })).errors).toEqual([]);
    const changes = await plannedChanges(TWIN);
    expect(created(changes)).not.toContain('module.cluster.azapi_resource.resource_group[0]');
    expect(created(changes)).toHaveLength(7 + PUBLIC_ENDPOINT_RESOURCES.length);
    expect(resource(changes, 'azapi_resource.nsg')?.change.after.parent_id).toBe(`/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-orders`);
  });

  it('plans the same module through the Azure example (managed identity, no endpoint override) offline', async () => {
    writeVars(AZURE, { ...clusterVars, tenant_id: randomUUID(), blob_account_url: 'https://hcsclusters.blob.core.windows.net' });
    const changes = await plannedChanges(AZURE);
    expect(created(changes).sort()).toEqual([...ALL_RESOURCES, ...PUBLIC_ENDPOINT_RESOURCES].sort());
  });
});

// --- A minimal Resource Manager stand-in --------------------------------------------------------
// Enough of ARM for azapi 1.15.0: GET (404 when absent), PUT answered synchronously with
// provisioningState Succeeded, DELETE, the scale-set NIC listing, an ADFS-style authority
// (tenant "adfs" skips Azure AD instance discovery, which any other tenant would send to
// login.microsoftonline.com) and the App Service managed-identity token protocol. Not the twin:
// it runs no VMs and checks nothing but the bearer token.

interface Recorded {
  method: string;
  path: string;
  apiVersion: string | null;
  body: any;
  authorization: string | undefined;
}

interface StoredResource {
  id: string;
  name: string;
  properties: Record<string, unknown>;
  [field: string]: unknown;
}

interface FakeArm {
  url: string;
  requests: Recorded[];
  /** By lower-cased resource id (ARM ids are case-insensitive). */
  resources: Map<string, StoredResource>;
  addresses: Map<string, string>;
  accessToken: string;
  close(): Promise<void>;
}

async function startFakeArm(certDir: string): Promise<FakeArm> {
  const keyFile = join(certDir, 'key.pem');
  const certFile = join(certDir, 'cert.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  const requests: Recorded[] = [];
  const resources = new Map<string, StoredResource>();
  const addresses = new Map<string, string>();
  const accessToken = `fake-arm-token-${randomUUID()}`;
  let port = 0;

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const url = new URL(req.url ?? '/', `https://127.0.0.1:${port}`);
    const path = url.pathname;
    // Token requests are form-encoded; ARM bodies are JSON.
    const body = raw && req.headers['content-type']?.includes('json') ? JSON.parse(raw) : raw || undefined;
    requests.push({
      method: req.method ?? '',
      path,
      apiVersion: url.searchParams.get('api-version'),
      body,
      authorization: req.headers.authorization,
    });
    const base = `https://127.0.0.1:${port}/adfs`;

    if (path === '/adfs/.well-known/openid-configuration') {
      return send(res, 200, { issuer: base, authorization_endpoint: `${base}/oauth2/authorize`, token_endpoint: `${base}/oauth2/token` });
    }
    if (path === '/adfs/oauth2/token' && req.method === 'POST') {
      return send(res, 200, { token_type: 'Bearer', access_token: accessToken, expires_in: 3600, ext_expires_in: 3600 });
    }
    if (path === '/msi/token' && req.method === 'GET') {
      // The App Service managed-identity protocol that azidentity speaks when IDENTITY_ENDPOINT
      // and IDENTITY_HEADER are set.
      if (req.headers['x-identity-header'] !== 'fake-arm-identity-header') return send(res, 401, { error: 'bad identity header' });
      const expiresOn = Math.floor(Date.now() / 1000) + 3600;
      return send(res, 200, {
        access_token: accessToken,
        expires_on: String(expiresOn),
        resource: url.searchParams.get('resource'),
        token_type: 'Bearer',
      });
    }
    if (!path.startsWith('/subscriptions/')) return send(res, 404, { error: { code: 'NotFound', message: path } });
    if (req.headers.authorization !== `Bearer ${accessToken}`) {
      return send(res, 401, { error: { code: 'AuthenticationFailed', message: 'no valid bearer token' } });
    }

    const key = path.toLowerCase();
    if (/\/virtualmachinescalesets\/[^/]+\/networkinterfaces$/.test(key) && req.method === 'GET') {
      const scaleSet = resources.get(key.replace(/\/networkinterfaces$/, ''));
      if (!scaleSet) return send(res, 404, { error: { code: 'ResourceNotFound', message: path } });
      const address = addresses.get(scaleSet.name) ?? '';
      return send(res, 200, {
        value: [
          {
            id: `${scaleSet.id}/virtualMachines/0/networkInterfaces/${scaleSet.name}-nic`,
            name: `${scaleSet.name}-nic`,
            properties: {
              primary: true,
              ipConfigurations: [{ name: 'primary', properties: { primary: true, privateIPAddress: address } }],
            },
          },
        ],
      });
    }
    if (req.method === 'GET') {
      const found = resources.get(key);
      return found ? send(res, 200, found) : send(res, 404, { error: { code: 'ResourceNotFound', message: `${path} not found` } });
    }
    if (req.method === 'DELETE') {
      resources.delete(key);
      return send(res, 200, {});
    }
    if (req.method === 'PUT') {
      const segments = path.split('/');
      const name = segments[segments.length - 1] ?? '';
      const properties: Record<string, unknown> = { ...(body?.properties ?? {}), provisioningState: 'Succeeded' };
      if (/\/userassignedidentities\//.test(key)) {
        Object.assign(properties, { principalId: randomUUID(), clientId: randomUUID(), tenantId: randomUUID() });
      }
      if (/\/virtualmachinescalesets\//.test(key) && !addresses.has(name)) addresses.set(name, `10.20.0.${4 + addresses.size}`);
      // Azure allocates a static public IP's address at create; the module reads it back.
      if (/\/publicipaddresses\//.test(key)) properties.ipAddress = PUBLIC_ADDRESS;
      const stored: StoredResource = { ...body, id: path, name, properties };
      resources.set(key, stored);
      return send(res, 200, stored);
    }
    return send(res, 405, { error: { code: 'MethodNotAllowed', message: req.method } });
  };

  const server: Server = createServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        handle(req, res, Buffer.concat(chunks).toString('utf8'));
      } catch (error) {
        send(res, 500, { error: { code: 'InternalError', message: String(error) } });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}/`,
    requests,
    resources,
    addresses,
    accessToken,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('the local-twin example applied against a Resource Manager stand-in', () => {
  let arm: FakeArm;
  let env: NodeJS.ProcessEnv;
  const twinDir = () => join(work, 'apply', 'terraform', TWIN);

  beforeAll(async () => {
    // A tree of its own, so the plan tests above and this apply do not share state.
    const copy = join(work, 'apply');
    cpSync(tree, join(copy, 'terraform'), { recursive: true, filter: (source) => basename(source) !== 'terraform.tfvars.json' });
    arm = await startFakeArm(work);
    // The stand-in's self-signed certificate is the only CA terraform and azapi trust here.
    env = { SSL_CERT_FILE: join(work, 'cert.pem') };
    writeFileSync(join(twinDir(), 'terraform.tfvars.json'), JSON.stringify(twinVars(arm.url)));
    await tfOk(twinDir(), ['apply', '-auto-approve', '-input=false', '-no-color'], env);
  });

  afterAll(async () => arm?.close());

  const puts = () => arm.requests.filter((r) => r.method === 'PUT');
  const IDENTITY_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-orders/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders-identity`;
  const PIP_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-orders/providers/Microsoft.Network/publicIPAddresses/orders-pip`;
  const LB_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-orders/providers/Microsoft.Network/loadBalancers/orders-lb`;
  const identityIds = () => {
    const stored = arm.resources.get(IDENTITY_ID.toLowerCase());
    if (!stored) throw new Error('the identity was not created');
    return { principalId: String(stored.properties.principalId), clientId: String(stored.properties.clientId) };
  };
  const put = (pathPattern: RegExp) => puts().find((r) => pathPattern.test(r.path));

  it('authenticates at the configured authority and calls only the configured endpoint with that token', () => {
    expect(arm.requests.some((r) => r.path === '/adfs/oauth2/token')).toBe(true);
    const armCalls = arm.requests.filter((r) => r.path.startsWith('/subscriptions/'));
    expect(armCalls.length).toBeGreaterThan(0);
    for (const call of armCalls) expect(call.authorization).toBe(`Bearer ${arm.accessToken}`);
  });

  it('creates each resource once, with its pinned api-version, in dependency order', () => {
    const rg = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-orders`;
    const scope = `${STORAGE_ACCOUNT_ID}/blobServices/default/containers/cluster-orders`;
    const expected: Array<[string, string]> = [
      [rg, '2022-09-01'],
      [`${rg}/providers/Microsoft.Network/networkSecurityGroups/orders-nsg`, '2023-11-01'],
      [`${rg}/providers/Microsoft.Network/virtualNetworks/orders-vnet`, '2023-11-01'],
      [`${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders-identity`, '2023-01-31'],
      [`${scope}/providers/Microsoft.Authorization/roleAssignments/<guid>`, '2022-04-01'],
      [`${rg}/providers/Microsoft.Network/publicIPAddresses/orders-pip`, '2023-11-01'],
      [`${rg}/providers/Microsoft.Network/loadBalancers/orders-lb`, '2023-11-01'],
      ...[0, 1, 2, 3, 4].map((i): [string, string] => [
        `${rg}/providers/Microsoft.Compute/virtualMachineScaleSets/orders-server-${i}`,
        '2024-03-01',
      ]),
    ];
    const created = puts().map((r) => [r.path.replace(/roleAssignments\/[0-9a-f-]{36}$/, 'roleAssignments/<guid>'), r.apiVersion]);
    expect([...created].sort()).toEqual([...expected].sort());

    const at = (pattern: RegExp) => puts().findIndex((r) => pattern.test(r.path));
    const scaleSets = puts()
      .map((r, i) => (/virtualMachineScaleSets/.test(r.path) ? i : -1))
      .filter((i) => i >= 0);
    expect(at(/resourceGroups\/rg-orders$/)).toBe(0);
    expect(at(/networkSecurityGroups/)).toBeLessThan(at(/virtualNetworks/));
    expect(at(/userAssignedIdentities/)).toBeLessThan(at(/roleAssignments/));
    // The servers boot only once their network exists and their identity may read the container.
    expect(Math.min(...scaleSets)).toBeGreaterThan(Math.max(at(/virtualNetworks/), at(/roleAssignments/)));
    // The load balancer stands on its public IP, and the servers join its pool once it exists.
    expect(at(/publicIPAddresses/)).toBeLessThan(at(/loadBalancers/));
    expect(Math.min(...scaleSets)).toBeGreaterThan(at(/loadBalancers/));

    // Addresses come from the scale sets' NIC listing, read after each scale set exists.
    const listings = arm.requests.filter((r) => r.path.endsWith('/networkInterfaces'));
    expect(new Set(listings.map((r) => r.apiVersion))).toEqual(new Set(['2018-10-01']));
    expect(new Set(listings.map((r) => r.path.split('/')[8]))).toEqual(new Set([0, 1, 2, 3, 4].map((i) => `orders-server-${i}`)));
  });

  it('grants Storage Blob Data Reader on the cluster container only, to the cluster identity', () => {
    const identity = identityIds();
    const assignment = put(/\/roleAssignments\//);
    expect(assignment?.path.startsWith(`${STORAGE_ACCOUNT_ID}/blobServices/default/containers/cluster-orders/providers/`)).toBe(true);
    expect(assignment?.body.properties).toMatchObject({
      roleDefinitionId: `/subscriptions/${SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1`,
      principalId: identity.principalId,
      principalType: 'ServicePrincipal',
    });
  });

  it('builds the VNet from the customer CIDR with the servers subnet behind the NSG', () => {
    const vnet = put(/\/virtualNetworks\/orders-vnet$/)?.body;
    expect(vnet.properties.addressSpace.addressPrefixes).toEqual(['10.20.0.0/16']);
    expect(vnet.properties.subnets).toHaveLength(1);
    expect(vnet.properties.subnets[0].properties.addressPrefix).toBe('10.20.0.0/18');
    expect(vnet.properties.subnets[0].properties.networkSecurityGroup.id).toBe(
      `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-orders/providers/Microsoft.Network/networkSecurityGroups/orders-nsg`,
    );
  });

  it('makes one single-instance scale set per server, zones round-robin, identity and subnet wired, customData paths only', () => {
    const identity = identityIds();
    const subnetId = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-orders/providers/Microsoft.Network/virtualNetworks/orders-vnet/subnets/consul-servers`;
    for (const index of [0, 1, 2, 3, 4]) {
      const body = put(new RegExp(`/virtualMachineScaleSets/orders-server-${index}$`))?.body;
      expect(body.zones).toEqual([String((index % 3) + 1)]);
      expect(body.sku).toMatchObject({ capacity: 1 });
      expect(body.identity.type).toBe('UserAssigned');
      expect(Object.keys(body.identity.userAssignedIdentities)).toEqual([IDENTITY_ID]);
      const vmProfile = body.properties.virtualMachineProfile;
      const ipConfig = vmProfile.networkProfile.networkInterfaceConfigurations[0].properties.ipConfigurations[0].properties;
      expect(ipConfig.subnet.id).toBe(subnetId);
      // In the load balancer's pool; no server has a public IP of its own.
      expect(ipConfig.loadBalancerBackendAddressPools).toEqual([{ id: `${LB_ID}/backendAddressPools/consul-servers` }]);
      expect(ipConfig.publicIPAddressConfiguration).toBeUndefined();
      expect(vmProfile.storageProfile.imageReference).toEqual({
        publisher: 'Canonical',
        offer: 'ubuntu-24_04-lts',
        sku: 'server',
        version: 'latest',
      });
      const hostConfig = decodeCustomData(vmProfile.osProfile.customData);
      expect(hostConfig).toEqual(
        expectedHostConfig('orders', index, identity.clientId, 'http://127.0.0.1:10000/devstoreaccount1', 'cluster-orders'),
      );
      expect(JSON.stringify(hostConfig)).not.toMatch(SECRETISH);
    }
  });

  it('puts the public endpoint on one zone-redundant static public IP and a load balancer: 443 to 8501, TCP probe on 8501', () => {
    const pip = put(/\/publicIPAddresses\/orders-pip$/)?.body;
    expect(pip).toMatchObject({
      sku: { name: 'Standard', tier: 'Regional' },
      zones: ['1', '2', '3'],
      properties: { publicIPAllocationMethod: 'Static', publicIPAddressVersion: 'IPv4' },
    });
    const lb = put(/\/loadBalancers\/orders-lb$/)?.body;
    expect(lb.sku).toEqual({ name: 'Standard', tier: 'Regional' });
    expect(lb.properties.frontendIPConfigurations).toEqual([{ name: 'public', properties: { publicIPAddress: { id: PIP_ID } } }]);
    expect(lb.properties.backendAddressPools).toEqual([{ name: 'consul-servers' }]);
    expect(lb.properties.probes).toEqual([
      { name: 'consul-https', properties: { protocol: 'Tcp', port: 8501, intervalInSeconds: 5, numberOfProbes: 2, probeThreshold: 2 } },
    ]);
    expect(lb.properties.loadBalancingRules).toHaveLength(1);
    expect(lb.properties.loadBalancingRules[0]).toMatchObject({
      name: 'consul-https',
      properties: {
        frontendIPConfiguration: { id: `${LB_ID}/frontendIPConfigurations/public` },
        backendAddressPool: { id: `${LB_ID}/backendAddressPools/consul-servers` },
        probe: { id: `${LB_ID}/probes/consul-https` },
        protocol: 'Tcp',
        frontendPort: 443,
        backendPort: 8501,
        disableOutboundSnat: true,
        idleTimeoutInMinutes: 15,
      },
    });
  });

  it('outputs names, zones and the private addresses the instances report', async () => {
    const out = JSON.parse(await tfOk(twinDir(), ['output', '-json'], env));
    expect(out.server_names.value).toEqual([0, 1, 2, 3, 4].map((i) => `orders-server-${i}`));
    expect(out.server_zones.value).toEqual(['1', '2', '3', '1', '2']);
    expect(out.private_addresses.value).toEqual(Object.fromEntries(arm.addresses));
    expect(Object.keys(out.private_addresses.value)).toHaveLength(5);
    // Read back from the public IP resource, as Azure allocated it.
    expect(out.public_ip_address.value).toBe(PUBLIC_ADDRESS);
  });

  it('turning the public endpoint off changes the NSG and the scale sets (out of the pool) and deletes the load balancer and public IP', async () => {
    await tfOk(twinDir(), ['plan', '-input=false', '-no-color', '-var', 'public_endpoint=false', '-out=off.bin'], env);
    const plan = JSON.parse(await tfOk(twinDir(), ['show', '-json', 'off.bin'], env));
    const changes: PlannedChange[] = plan.resource_changes;
    const updated = changes.filter((c) => c.change.actions.join() === 'update').map((c) => c.address);
    expect(updated.sort()).toEqual(
      [
        'module.cluster.azapi_resource.nsg',
        ...[0, 1, 2, 3, 4].map((i) => `module.cluster.azapi_resource.server["orders-server-${i}"]`),
      ].sort(),
    );
    const deleted = changes.filter((c) => c.change.actions.join() === 'delete').map((c) => c.address);
    expect(deleted.sort()).toEqual([...PUBLIC_ENDPOINT_RESOURCES].sort());
    expect(changes.filter((c) => !['update', 'no-op', 'read', 'delete'].includes(c.change.actions.join()))).toEqual([]);
    expect(plan.output_changes.public_ip_address.after).toBeNull();
    for (const change of changes.filter((c) => c.address.includes('azapi_resource.server['))) {
      const body = JSON.parse(change.change.after.body);
      const ipConfig =
        body.properties.virtualMachineProfile.networkProfile.networkInterfaceConfigurations[0].properties.ipConfigurations[0];
      expect(ipConfig.properties.publicIPAddressConfiguration).toBeUndefined();
      expect(ipConfig.properties.loadBalancerBackendAddressPools).toBeUndefined();
      expect(ipConfig.properties.subnet.id).toMatch(/\/subnets\/consul-servers$/);
    }
  });

  it('also authenticates by the managed-identity protocol (use_msi with IDENTITY_ENDPOINT), with no client secret', async () => {
    const before = arm.requests.length;
    writeFileSync(
      join(twinDir(), 'msi.tfvars.json'),
      JSON.stringify({ use_msi: true, tenant_id: null, client_id: null, client_secret: null }),
    );
    const msiEnv = { ...env, IDENTITY_ENDPOINT: `${arm.url}msi/token`, IDENTITY_HEADER: 'fake-arm-identity-header' };
    const result = await tf(twinDir(), ['plan', '-detailed-exitcode', '-input=false', '-no-color', '-var-file=msi.tfvars.json'], msiEnv);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const during = arm.requests.slice(before);
    expect(during.some((r) => r.path === '/msi/token')).toBe(true);
    expect(during.some((r) => r.path.startsWith('/adfs/'))).toBe(false);
    expect(during.filter((r) => r.path.startsWith('/subscriptions/')).length).toBeGreaterThan(0);
  });

  it('has nothing left to change on a second plan, and destroys everything it made', async () => {
    const again = await tf(twinDir(), ['plan', '-detailed-exitcode', '-input=false', '-no-color'], env);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    await tfOk(twinDir(), ['destroy', '-auto-approve', '-input=false', '-no-color'], env);
    expect([...arm.resources.keys()]).toEqual([]);
  });
});
