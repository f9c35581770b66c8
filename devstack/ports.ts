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

  constructor(file?: string) {
    this.#file = file;
    this.#ports = file && existsSync(file) ? parseBook(file) : {};
  }

  /**
   * The port named `name`: the one it had before if the book has it (an error naming the port,
   * the service and the file if something else now holds it), else a new free port, written down.
   */
  async take(name: string): Promise<number> {
    if (!this.#file) return freePort();
    const kept = this.#ports[name];
    if (kept !== undefined) {
      if (await isPortFree(kept)) return kept;
      throw new PortInUseError(
        `port ${kept} of ${name}, kept from the last start in ${this.#file}, is in use by another process. ` +
          'Stop that process and start again: the stack keeps its addresses because clusters already created name them.',
      );
    }
    const port = await freePort();
    this.#ports[name] = port;
    const tmp = `${this.#file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.#ports, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.#file);
    return port;
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
