import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { httpCall } from '../../lib/http.js';
import { Supervisor, freePort } from '../../devstack/supervisor.js';

const stack = inject('stack');
const dir = mkdtempSync(join(tmpdir(), 'hcs-consul-smoke-'));
const supervisor = new Supervisor({ stateDir: dir });
afterAll(async () => {
  await supervisor.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.each(stack.tools.consulVersions)('consul %s', (version) => {
  it('starts `consul agent -dev` and answers its HTTP API with its own version', async () => {
    const [http, serfLan, serfWan, server] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const configFile = join(dir, `consul-${version}.json`);
    writeFileSync(
      configFile,
      JSON.stringify({
        bind_addr: '127.0.0.1',
        client_addr: '127.0.0.1',
        ports: { http, serf_lan: serfLan, serf_wan: serfWan, server, dns: -1, grpc: -1, grpc_tls: -1 },
      }),
    );
    const base = `http://127.0.0.1:${http}`;
    await supervisor.start({
      name: `consul-${version}`,
      command: stack.tools.consul[version]!,
      args: ['agent', '-dev', '-config-file', configFile],
      // Ready means the dev server elected itself leader.
      probe: async () => {
        const res = await httpCall(`${base}/v1/status/leader`);
        if (res.status !== 200 || JSON.parse(res.body) === '') throw new Error(`no leader yet (${res.status})`);
      },
    });
    const self = JSON.parse((await httpCall(`${base}/v1/agent/self`)).body) as { Config: { Version: string; Server: boolean } };
    expect(self.Config.Version).toBe(version);
    expect(self.Config.Server).toBe(true);
    const put = await httpCall(`${base}/v1/kv/smoke`, { method: 'PUT', body: '"ok"' });
    expect(put.body).toBe('true');
  });
});
