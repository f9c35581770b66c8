// A port is checked free and released before a service binds it, so another process can take it
// in between. These tests take it on purpose: the service (a real node process) fails to bind,
// and the supervisor builds it again on a new port, but never moves a port a persistent stack
// kept, and never retries a service that failed for another reason.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { httpCall } from '../lib/http.js';
import { PortTakenError, ServiceStartError, Supervisor, type ProcessSpec } from './supervisor.js';

const dirs: string[] = [];
const holders: Server[] = [];
const supervisors: Supervisor[] = [];
afterEach(async () => {
  for (const s of supervisors.splice(0)) await s.stop();
  for (const h of holders.splice(0)) h.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function supervisor(o: { persistent?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-sup-ports-'));
  dirs.push(dir);
  const events: string[] = [];
  const sup = new Supervisor({
    stateDir: dir,
    onEvent: (m) => events.push(m),
    ...(o.persistent ? { portsFile: join(dir, 'ports.json') } : {}),
  });
  supervisors.push(sup);
  return { sup, events, dir };
}

/** Another process's socket on the port: it accepts and hangs up, so a probe never mistakes it for the service. */
async function takeMeanwhile(port: number): Promise<void> {
  const holder = createServer((socket) => socket.destroy());
  holders.push(holder);
  await new Promise<void>((resolve, reject) => {
    holder.once('error', reject);
    holder.listen({ host: '127.0.0.1', port }, () => resolve());
  });
}

/** A node HTTP server on the port that answers `hello`; Node prints EADDRINUSE and exits 1 when it cannot bind. */
function helloService(port: number): ProcessSpec {
  const script = `require('node:http').createServer((q, s) => s.end('hello')).listen(${port}, '127.0.0.1')`;
  return {
    name: 'hello',
    command: process.execPath,
    args: ['-e', script],
    readyTimeoutMs: 20_000,
    probe: async () => {
      const answer = await httpCall(`http://127.0.0.1:${port}/`, { timeoutInMs: 1_000 });
      if (answer.body !== 'hello') throw new Error(`not the service: ${answer.status}`);
    },
  };
}

it('starts a service again on a new port when another process took its port before it bound it', async () => {
  const { sup, events } = supervisor();
  const given: number[] = [];
  const port = await sup.startOnFreePorts(async (take) => {
    const p = await take('hello-http');
    given.push(p);
    if (given.length === 1) await takeMeanwhile(p);
    return { spec: helloService(p), value: p };
  });
  expect(given).toHaveLength(2);
  expect(port).toBe(given[1]);
  expect(port).not.toBe(given[0]);
  expect((await httpCall(`http://127.0.0.1:${port}/`)).body).toBe('hello');
  expect(events.some((e) => e.includes('hello: an address it was given was taken before it bound it; starting it on new ports'))).toBe(
    true,
  );
  // The failed first process is not left in the list: stopping the service stops the one that runs.
  await sup.stopService('hello');
  await expect(httpCall(`http://127.0.0.1:${port}/`, { timeoutInMs: 1_000 })).rejects.toThrow();
});

it('gives up after three tries, with the last error', async () => {
  const { sup } = supervisor();
  let builds = 0;
  const err = await sup
    .startOnFreePorts(async (take) => {
      builds++;
      const p = await take('hello-http');
      await takeMeanwhile(p);
      return { spec: helloService(p), value: p };
    })
    .catch((e: unknown) => e);
  expect(builds).toBe(3);
  expect(err).toBeInstanceOf(PortTakenError);
  expect(String(err)).toMatch(/hello exited before it was ready \(1\)[\s\S]*EADDRINUSE/);
});

it('a persistent stack gets a new port for a port it had just handed out, but never moves one kept from an earlier start', async () => {
  const first = supervisor({ persistent: true });
  const given: number[] = [];
  await first.sup.startOnFreePorts(async (take) => {
    const p = await take('hello-http');
    given.push(p);
    if (given.length === 1) await takeMeanwhile(p);
    return { spec: helloService(p), value: p };
  });
  expect(given).toHaveLength(2);
  await first.sup.stop();

  // The next start keeps the port the service bound (given[1]); taken meanwhile, it is an error, not a move.
  const again = new Supervisor({ stateDir: join(first.dir, 'again'), portsFile: join(first.dir, 'ports.json') });
  supervisors.push(again);
  const kept: number[] = [];
  const err = await again
    .startOnFreePorts(async (take) => {
      const p = await take('hello-http');
      kept.push(p);
      await takeMeanwhile(p);
      return { spec: helloService(p), value: p };
    })
    .catch((e: unknown) => e);
  expect(kept).toEqual([given[1]]);
  expect(err).toBeInstanceOf(PortTakenError);
});

it('does not retry a service that failed for another reason', async () => {
  const { sup } = supervisor();
  let builds = 0;
  const err = await sup
    .startOnFreePorts(async (take) => {
      builds++;
      const p = await take('crasher');
      return {
        spec: {
          name: 'crasher',
          command: 'sh',
          args: ['-c', 'echo bad configuration >&2; exit 2'],
          probe: () => Promise.reject(new Error('down')),
        },
        value: p,
      };
    })
    .catch((e: unknown) => e);
  expect(builds).toBe(1);
  expect(err).toBeInstanceOf(ServiceStartError);
  expect(err).not.toBeInstanceOf(PortTakenError);
  expect(String(err)).toContain('bad configuration');
});
