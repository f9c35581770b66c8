// The project's Terraform module (azapi v1.15.0, the Go Azure SDK underneath) applied to the twin
// unchanged, through the local-twin example: apply, a plan that finds nothing to change, destroy.
// The twin is the only thing terraform can reach: a proxy that refuses every connection stands in
// for the network (Go never proxies loopback). Both ways the example authenticates are used: a
// client secret through the "adfs" authority, and the App Service managed-identity protocol.
// The client-secret cluster has the public endpoint: its load balancer's public IP forwards 443
// to 8501 on the servers (the test instances answer on 8501 of their own address).
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { repoRoot, toolPaths } from '../../scripts/toolchain.mjs';
import { startTestCloud, type TestCloud } from '../../apps/local-cloud/src/testing.js';
import { probe, probeInstanceCommand } from '../../apps/local-cloud/src/testing-instance.js';

const run = promisify(execFile);
const tools = toolPaths();
const work = mkdtempSync(join(tmpdir(), 'local-cloud-tf-'));
let t: TestCloud;
// Consul's HTTPS port, where the public endpoint's load balancer forwards and probes; each
// instance listens on its own loopback address, so they never collide.
const port = 8501;

beforeAll(async () => {
  t = await startTestCloud({ instanceCommand: probeInstanceCommand(port), retryAfterSeconds: 1 });
});
afterAll(async () => {
  await t?.dispose();
  rmSync(work, { recursive: true, force: true });
});

async function terraform(dir: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  try {
    return (await run(tools.terraform, args, { cwd: dir, env, maxBuffer: 64 << 20 })).stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`terraform ${args[0]} failed:\n${e.stderr ?? ''}\n${(e.stdout ?? '').slice(-4000)}`);
  }
}

for (const auth of ['client secret', 'managed identity'] as const) {
  it(`applies, re-plans and destroys the consul-cluster module (${auth})`, async () => {
    const tree = join(work, auth.replace(' ', '-'));
    cpSync(join(repoRoot, 'terraform'), tree, { recursive: true, filter: (src) => !src.includes('.terraform') });
    const dir = join(tree, 'examples', 'local-twin');
    const { cloud } = t;
    const sub = cloud.subscriptionId;
    const msi = auth === 'managed identity';
    writeFileSync(
      join(dir, 'twin.tfvars.json'),
      JSON.stringify({
        arm_endpoint: `${cloud.url}/`,
        authority_host: `${cloud.url}/`,
        subscription_id: sub,
        tenant_id: 'adfs',
        client_id: cloud.clientCredentials.clientId,
        use_msi: msi,
        cluster_name: msi ? 'tfmsi' : 'tfsecret',
        cluster_id: msi ? '0123456789abcdef0123456789abcdef' : 'fedcba9876543210fedcba9876543210',
        resource_group_name: msi ? 'rg-tf-msi' : 'rg-tf-secret',
        public_endpoint: !msi,
        consul_version: '1.22.7',
        server_count: 3,
        admin_ssh_public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBb0Ykx8H2dXv8bZrXoWQkq3n2dN1o8t3e8p9k4w5r6s test',
        storage_account_id: `/subscriptions/${sub}/resourceGroups/rg-storage/providers/Microsoft.Storage/storageAccounts/hcsdev`,
        blob_account_url: 'http://127.0.0.1:10000/hcsdev',
        blob_container: 'cluster',
      }),
    );
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TF_CLI_CONFIG_FILE: tools.terraformConfig.cliConfigFile,
      TF_IN_AUTOMATION: '1',
      CHECKPOINT_DISABLE: '1',
      HTTP_PROXY: 'http://127.0.0.1:9',
      HTTPS_PROXY: 'http://127.0.0.1:9',
      SSL_CERT_FILE: cloud.caCertFile,
      ...(msi
        ? { IDENTITY_ENDPOINT: cloud.controlPlaneIdentity.endpoint, IDENTITY_HEADER: cloud.controlPlaneIdentity.header }
        : { TF_VAR_client_secret: cloud.clientCredentials.clientSecret }),
    };
    const vars = ['-input=false', '-no-color', '-var-file=twin.tfvars.json'];
    await terraform(dir, ['init', '-input=false', '-no-color'], env);
    await terraform(dir, ['apply', '-auto-approve', ...vars], env);

    const outputs = JSON.parse(await terraform(dir, ['output', '-json'], env)) as {
      servers: { value: Array<{ name: string; zone: string; private_address: string }> };
      // terraform output -json leaves out an output whose value is null (a private cluster).
      public_ip_address?: { value: string | null };
    };
    const servers = outputs.servers.value;
    expect(servers.map((s) => s.zone)).toEqual(['1', '2', '3']);
    expect(new Set(servers.map((s) => s.private_address)).size).toBe(3);
    for (const server of servers) {
      expect(server.private_address).toMatch(/^127\.0\.\d+\.\d+$/);
      // The instance behind the address runs in the server's zone with the module's customData.
      const answer = await probe(server.private_address, port);
      expect(answer.zone).toBe(server.zone);
      expect(answer.name.startsWith(server.name)).toBe(true);
      expect(answer.customData.length).toBeGreaterThan(0);
    }

    const publicIp = outputs.public_ip_address?.value ?? null;
    if (msi) expect(publicIp).toBeNull();
    else {
      // The public IP's own pool, never an instance address; behind it, every server (the probe
      // on 8501 brings each one in within a probe interval or two).
      expect(publicIp).toMatch(/^127\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.\d+$/);
      const reached = new Set<string>();
      const deadline = Date.now() + 30_000;
      while (reached.size < servers.length && Date.now() < deadline) reached.add((await probe(publicIp!, 443, undefined, 15_000)).ip);
      expect([...reached].sort()).toEqual(servers.map((s) => s.private_address).sort());
    }

    // Nothing drifts: what the twin answers matches what the module wrote.
    await terraform(dir, ['plan', '-detailed-exitcode', ...vars], env);
    await terraform(dir, ['destroy', '-auto-approve', ...vars], env);
    for (const server of servers) await expect(probe(server.private_address, port, undefined, 500)).rejects.toThrow();
    if (publicIp) await expect(probe(publicIp, 443, undefined, 500)).rejects.toThrow();
  });
}
