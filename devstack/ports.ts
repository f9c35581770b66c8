// The loopback ports of a persistent stack (`npm start`), kept across restarts in one file.
// What the stack hands out is remembered elsewhere: a server VM's cloud-init names the Blob
// endpoint it was created with, the worker's configuration names OpenBao and Temporal. So a
// restarted stack listens where it listened before, as Azure's endpoints do not move. A stack
// without a file (the tests' per-run stacks) takes any free port.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Asks the kernel for a free TCP port on the given loopback address. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Where Linux's ephemeral range starts (net.ipv4.ip_local_port_range: 32768-60999 by default). */
export const EPHEMERAL_PORTS_START = 32_768;

/** The lowest port freePortBelow hands out: above the well-known and most registered services' ports. */
const LOW_PORT_FLOOR = 20_000;

/**
 * A free loopback port below `limit`, for a server that cannot store a larger one (Temporal keeps
 * its services' membership ports in a SMALLINT column, so at most 32767). The kernel's own picks
 * come from the ephemeral range (32768 and up on Linux), so ports are tried at random below it.
 */
export async function freePortBelow(limit: number, host = '127.0.0.1'): Promise<number> {
  if (limit <= LOW_PORT_FLOOR) throw new Error(`freePortBelow: the limit ${limit} must be above ${LOW_PORT_FLOOR}`);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW_PORT_FLOOR + Math.floor(Math.random() * (limit - LOW_PORT_FLOOR));
    if (await isPortFree(port, host)) return port;
  }
  throw new Error(`no free port between ${LOW_PORT_FLOOR} and ${limit - 1} after 200 tries`);
}

/** Whether `port` can be listened on now. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

export class PortInUseError extends Error {
  override name = 'PortInUseError';
}

/** Named ports, kept in `file` when there is one. */
export class PortBook {
  readonly #file: string | undefined;
  readonly #ports: Record<string, number>;
  /** Names this book gave a new port since it was opened (not kept from a file). */
  readonly #fresh = new Set<string>();

  constructor(file?: string) {
    this.#file = file;
    this.#ports = file && existsSync(file) ? parseBook(file) : {};
  }

  /**
   * The port named `name`: the one it had before if the book has it (an error naming the port,
   * the service and the file if something else now holds it), else a new free port, written down.
   */
  async take(name: string, o: { below?: number } = {}): Promise<number> {
    // Below the kernel's ephemeral range: a port the kernel may hand to any outgoing connection
    // in the meantime (another test's client socket took one once, between check and bind).
    const fresh = () => freePortBelow(Math.min(o.below ?? EPHEMERAL_PORTS_START, EPHEMERAL_PORTS_START));
    if (!this.#file) return fresh();
    const kept = this.#ports[name];
    if (kept !== undefined && (!o.below || kept < o.below)) {
      if (await isPortFree(kept)) return kept;
      throw new PortInUseError(
        `port ${kept} of ${name}, kept from the last start in ${this.#file}, is in use by another process. ` +
          'Stop that process and start again: the stack keeps its addresses because clusters already created name them.',
      );
    }
    const port = await fresh();
    this.#ports[name] = port;
    this.#fresh.add(name);
    const tmp = `${this.#file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.#ports, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.#file);
    return port;
  }

  /**
   * Lets the next take of `name` hand out another port, if its port is new (a service could not
   * bind it: another process took it between the check and the bind). A port kept from an earlier
   * start stays, since clusters name it; false then.
   */
  release(name: string): boolean {
    if (!this.#file) return true;
    if (!this.#fresh.has(name)) return false;
    delete this.#ports[name];
    return true;
  }
}

function parseBook(file: string): Record<string, number> {
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const valid =
    typeof parsed === 'object' &&
    parsed !== null &&
    Object.values(parsed).every((p) => Number.isInteger(p) && (p as number) > 0 && (p as number) < 65536);
  if (!valid) throw new Error(`${file} is not a map of service names to ports; delete it to start on new ports`);
  return parsed as Record<string, number>;
}
