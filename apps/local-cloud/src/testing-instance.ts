// A tiny stand-in for host-manager used by the tests: each instance process binds one fixed port
// on its own loopback address (so two instances sharing an address would collide) and answers
// with what it sees: its environment, customData, a boot counter kept on its disk (restart
// increments it, reimage wipes it) and, when customData asks for it, what ARM answers to calls
// made with its managed identity through @azure/identity's ManagedIdentityCredential.
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { repoRoot } from '../../../scripts/toolchain.mjs';

/** The instance program, run as `node -e <script>` with PROBE_PORT and REPO_ROOT set. */
export const PROBE_INSTANCE_SCRIPT = String.raw`
const fs = require('node:fs');
const net = require('node:net');
const https = require('node:https');
const { createRequire } = require('node:module');
const env = process.env;
const boots = (fs.existsSync('boots') ? Number(fs.readFileSync('boots', 'utf8')) : 0) + 1;
fs.writeFileSync('boots', String(boots));
const customData = fs.readFileSync(env.HCS_CUSTOM_DATA_FILE, 'utf8');
const info = {
  pid: process.pid, boots, customData, ip: env.HCS_INSTANCE_IP, zone: env.HCS_INSTANCE_ZONE,
  name: env.HCS_INSTANCE_NAME, vmName: env.HCS_VM_NAME, instanceId: env.HCS_INSTANCE_ID, cwd: process.cwd(),
  customDataMode: (fs.statSync(env.HCS_CUSTOM_DATA_FILE).mode & 0o777).toString(8),
};
function arm(method, path, token) {
  return new Promise((resolve, reject) => {
    const req = https.request(env.HCS_CLOUD_URL + path, { method, headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, code: body ? (JSON.parse(body).error || {}).code : undefined, body: body ? JSON.parse(body) : undefined }));
    });
    req.on('error', reject);
    req.end(method === 'PUT' ? JSON.stringify({ location: 'westeurope' }) : undefined);
  });
}
async function identityChecks(checks) {
  const { ManagedIdentityCredential } = createRequire(env.REPO_ROOT + '/package.json')('@azure/identity');
  const token = (await new ManagedIdentityCredential().getToken('https://management.azure.com/.default')).token;
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
  const results = [];
  for (const [method, path] of checks) results.push(await arm(method, path, token));
  return { oid: claims.oid, mirid: claims.xms_mirid, results };
}
(async () => {
  const wanted = customData.startsWith('{') ? JSON.parse(customData) : {};
  if (wanted.checks) info.identity = await identityChecks(wanted.checks).catch((e) => ({ error: String(e && e.message || e) }));
  // A peer gone before the answer is written (a load balancer's TCP probe connects and closes)
  // must not end the process: the socket's error is ignored.
  net.createServer((c) => c.on('error', () => {}).end(JSON.stringify(info))).listen(Number(env.PROBE_PORT), env.HCS_INSTANCE_IP);
})();
`;

export function probeInstanceCommand(probePort: number): { command: string; args: string[]; env: Record<string, string> } {
  return { command: process.execPath, args: ['-e', PROBE_INSTANCE_SCRIPT], env: { PROBE_PORT: String(probePort), REPO_ROOT: repoRoot } };
}

export interface ProbeAnswer {
  pid: number;
  boots: number;
  customData: string;
  customDataMode: string;
  ip: string;
  zone: string;
  name: string;
  vmName: string;
  instanceId: string;
  cwd: string;
  identity?: {
    oid?: string;
    mirid?: string;
    error?: string;
    results: Array<{ status: number; code?: string; body?: { value?: Array<{ name: string }> } }>;
  };
}

/** Asks the instance on `ip` what it sees; retries until it answers (and `until` holds). */
export async function probe(
  ip: string,
  port: number,
  until: (a: ProbeAnswer) => boolean = () => true,
  timeoutMs = 30_000,
): Promise<ProbeAnswer> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    try {
      const answer = JSON.parse(await ask(ip, port)) as ProbeAnswer;
      if (until(answer)) return answer;
      last = JSON.stringify(answer);
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) throw new Error(`instance at ${ip}:${port} did not answer as expected: ${last}`);
    await delay(100);
  }
}

function ask(ip: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: ip, port }, () => {});
    let data = '';
    socket.setTimeout(2_000, () => socket.destroy(new Error('timeout')));
    socket.on('data', (c: Buffer) => (data += c.toString('utf8')));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}
