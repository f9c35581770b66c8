import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { EPHEMERAL_PORTS_START, freePortBelow, isPortFree, PortBook, PortInUseError } from './ports.js';

const dirs: string[] = [];
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const bookFile = () => {
  const d = mkdtempSync(join(tmpdir(), 'hcs-ports-'));
  dirs.push(d);
  return join(d, 'ports.json');
};
const hold = (port: number) =>
  new Promise<void>((resolve) => {
    const s = createServer();
    servers.push(s);
    s.listen({ host: '127.0.0.1', port }, () => resolve());
  });

it('a book with a file hands the same port to the same name after a restart, and different names different ports', async () => {
  const file = bookFile();
  const first = new PortBook(file);
  const [a, b] = [await first.take('blob'), await first.take('vault')];
  expect(a).not.toBe(b);
  const again = new PortBook(file);
  expect(await again.take('blob')).toBe(a);
  expect(await again.take('vault')).toBe(b);
});

it('a kept port that another process holds is an error naming the port, the service and the file', async () => {
  const file = bookFile();
  const port = await new PortBook(file).take('blob');
  await hold(port);
  await expect(new PortBook(file).take('blob')).rejects.toThrow(PortInUseError);
  await expect(new PortBook(file).take('blob')).rejects.toThrow(`port ${port} of blob, kept from the last start in ${file}`);
});

it('a damaged book is refused with what to do', () => {
  const file = bookFile();
  writeFileSync(file, JSON.stringify({ blob: 'eighty' }));
  expect(() => new PortBook(file)).toThrow(/is not a map of service names to ports; delete it/);
});

it('without a file every take is a new free port', async () => {
  const book = new PortBook();
  const port = await book.take('blob');
  await hold(port);
  expect(await book.take('blob')).not.toBe(port);
  // Never from the kernel's ephemeral range, where outgoing connections take their ports.
  expect(port).toBeLessThan(EPHEMERAL_PORTS_START);
});

it('a port asked for below a limit is below it, free, kept by a book, and a kept port above the limit is replaced', async () => {
  const file = bookFile();
  const book = new PortBook(file);
  const low = await book.take('temporal-frontend', { below: 32_768 });
  expect(low).toBeGreaterThanOrEqual(20_000);
  expect(low).toBeLessThan(32_768);
  expect(await isPortFree(low)).toBe(true);
  expect(await new PortBook(file).take('temporal-frontend', { below: 32_768 })).toBe(low);
  // A book written before the limit existed may hold a larger port: it is replaced, not kept.
  writeFileSync(file, JSON.stringify({ 'temporal-history': 45_000 }));
  const replaced = await new PortBook(file).take('temporal-history', { below: 32_768 });
  expect(replaced).toBeLessThan(32_768);
  expect(JSON.parse(readFileSync(file, 'utf8'))['temporal-history']).toBe(replaced);
  // Books without a file too.
  expect(await new PortBook().take('x', { below: 32_768 })).toBeLessThan(32_768);
  await expect(freePortBelow(1_024)).rejects.toThrow(/must be above 20000/);
});
