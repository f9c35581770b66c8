// OpenBao (Vault-API-compatible) with the pki and transit secrets engines mounted.
// Tests use the in-memory dev server; the embedded default (`npm start`) runs a real server on
// file storage, initialised once with a single unseal key kept beside its data, so CAs and
// transit keys survive a restart (losing the transit key would make every stored secret
// unreadable).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectStatus, httpCall } from '../../lib/http.js';
import type { ProcessSpec, Supervisor } from '../supervisor.js';

export interface VaultEndpoint {
  address: string;
  /** Root token for local use only; production workers authenticate with AppRole or similar. */
  token: string;
  pkiMount: string;
  transitMount: string;
}

export interface StartOpenBaoOptions {
  binary: string;
  dataDir: string;
  /** true: file storage that survives restarts; false: in-memory dev server. */
  persistent: boolean;
}

export async function startOpenBao(sup: Supervisor, options: StartOpenBaoOptions): Promise<VaultEndpoint> {
  const initFile = join(options.dataDir, 'init.json');
  // The dev server's root token is ours; a persistent server's comes from its initialisation.
  const devToken = options.persistent ? undefined : `dev-${randomBytes(16).toString('hex')}`;
  if (options.persistent) mkdirSync(join(options.dataDir, 'storage'), { recursive: true, mode: 0o700 });
  const address = await sup.startOnFreePorts(async (take) => {
    const port = await take('openbao');
    const address = `http://127.0.0.1:${port}`;
    return { value: address, spec: devToken ? devServer(options, port, devToken) : fileServer(options, port, initFile) };
  });
  const token = devToken ?? (await initAndUnseal(address, initFile));
  await ensureMount(address, token, 'pki', { type: 'pki', config: { max_lease_ttl: '87600h' } });
  await ensureMount(address, token, 'transit', { type: 'transit' });
  return { address, token, pkiMount: 'pki', transitMount: 'transit' };
}

/** The in-memory dev server. */
function devServer(options: StartOpenBaoOptions, port: number, token: string): ProcessSpec {
  return {
    name: 'openbao',
    command: options.binary,
    // The root token goes through the environment, never the command line (which every local
    // user can read in the process list).
    args: ['server', '-dev', `-dev-listen-address=127.0.0.1:${port}`, '-dev-no-store-token'],
    env: { BAO_DEV_ROOT_TOKEN_ID: token },
    probe: async () => void (await expectStatus(`http://127.0.0.1:${port}/v1/sys/health`, [200])),
  };
}

/** A server on file storage, initialised and unsealed with the key kept beside its data. */
function fileServer(options: StartOpenBaoOptions, port: number, initFile: string): ProcessSpec {
  const address = `http://127.0.0.1:${port}`;
  const configFile = join(options.dataDir, 'server.hcl');
  writeFileSync(
    configFile,
    [
      `storage "file" { path = ${JSON.stringify(join(options.dataDir, 'storage'))} }`,
      `listener "tcp" {`,
      `  address     = "127.0.0.1:${port}"`,
      `  tls_disable = true`,
      `}`,
      `api_addr      = "${address}"`,
      `disable_mlock = true`,
      '',
    ].join('\n'),
  );
  return {
    name: 'openbao',
    command: options.binary,
    args: ['server', `-config=${configFile}`],
    // 501 = not initialised, 503 = sealed, 200 = active: any answer means it listens. A restart on
    // initialised storage comes back sealed: it is unsealed here with the key kept beside the
    // data, so a stopped and started service (chaos runs) is usable again at once.
    probe: async () => {
      const res = await expectStatus(`${address}/v1/sys/health?uninitcode=200&sealedcode=200`, [200]);
      const h = JSON.parse(res.body) as { initialized?: boolean; sealed?: boolean };
      if (h.initialized && h.sealed && existsSync(initFile)) await initAndUnseal(address, initFile);
    },
  };
}

interface InitState {
  unsealKey: string;
  rootToken: string;
}

async function initAndUnseal(address: string, stateFile: string): Promise<string> {
  let state: InitState;
  if (existsSync(stateFile)) {
    state = JSON.parse(readFileSync(stateFile, 'utf8')) as InitState;
  } else {
    const res = await httpCall(`${address}/v1/sys/init`, {
      method: 'PUT',
      body: JSON.stringify({ secret_shares: 1, secret_threshold: 1 }),
    });
    if (res.status !== 200) throw new Error(`OpenBao init failed (${res.status}): ${res.body}`);
    const body = JSON.parse(res.body) as { keys_base64: string[]; root_token: string };
    state = { unsealKey: body.keys_base64[0]!, rootToken: body.root_token };
    writeFileSync(stateFile, JSON.stringify(state), { mode: 0o600 });
  }
  const unseal = await httpCall(`${address}/v1/sys/unseal`, { method: 'PUT', body: JSON.stringify({ key: state.unsealKey }) });
  if (unseal.status !== 200) throw new Error(`OpenBao unseal failed (${unseal.status}): ${unseal.body}`);
  // Active once unsealed and the node has taken leadership of its storage.
  for (let i = 0; i < 100; i++) {
    const h = await httpCall(`${address}/v1/sys/health`);
    if (h.status === 200) return state.rootToken;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('OpenBao did not become active after unseal');
}

async function ensureMount(address: string, token: string, path: string, body: Record<string, unknown>): Promise<void> {
  const headers = { 'x-vault-token': token };
  const mounts = await httpCall(`${address}/v1/sys/mounts`, { headers });
  if (mounts.status !== 200) throw new Error(`listing OpenBao mounts failed (${mounts.status}): ${mounts.body}`);
  if ((JSON.parse(mounts.body) as { data: Record<string, unknown> }).data[`${path}/`]) return;
  const res = await httpCall(`${address}/v1/sys/mounts/${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  if (res.status !== 204 && res.status !== 200) throw new Error(`mounting ${path} failed (${res.status}): ${res.body}`);
}
