// The production Temporal server (devstack/services/temporal-server.ts) on the machine's
// PostgreSQL: a workflow runs through it over mutual TLS and is found by our search attributes,
// a plaintext client and clients without a certificate from its CA are refused, the finished
// workflow's result is read back after a restart (persistence), and bad options change nothing.
// Its databases are dropped at the end.
import { Client, Connection } from '@temporalio/client';
import { defineSearchAttributeKey } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEARCH_ATTRIBUTES } from '../../devstack/services/temporal.js';
import {
  dropTemporalServerDatabases,
  startTemporalServer,
  temporalServerConnection,
  type TemporalServerEndpoint,
  type TemporalServerOptions,
} from '../../devstack/services/temporal-server.js';
import { parsePostgresUrl, temporalSchemaVersions } from '../../devstack/services/temporal-server-db.js';
import { Supervisor } from '../../devstack/supervisor.js';
import { ensureDevCertificate } from '../../lib/dev-tls.js';
import { temporalConnectOptions } from '../../lib/temporal-connection.js';
import { toolPaths } from '../../scripts/toolchain.mjs';

// The machine's PostgreSQL (trust authentication on loopback): the password in the URL is accepted
// and ignored by the server, so it shows the password reaches Temporal without being written down.
const SQL_PASSWORD = `pw-${randomBytes(8).toString('hex')}`;
const POSTGRES = `postgres://postgres:${SQL_PASSWORD}@127.0.0.1:5432/postgres`;
const prefix = `hcs_tsrv_${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'hcs-temporal-server-'));
const tools = toolPaths();
const options = (): TemporalServerOptions => ({
  binary: tools.temporalServer,
  sqlTool: tools.temporalSqlTool,
  dataDir: join(dir, 'server'),
  postgresUrl: POSTGRES,
  databasePrefix: prefix,
});
const ClusterId = defineSearchAttributeKey('ClusterId', 'KEYWORD');
const Operation = defineSearchAttributeKey('Operation', 'KEYWORD');

let sup: Supervisor;
let endpoint: TemporalServerEndpoint;
let finished: { workflowId: string; result: string } | undefined;

/** A workflow client over mutual TLS, closed after `fn`. */
async function withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect(temporalConnectOptions(temporalServerConnection(endpoint)));
  try {
    return await fn(new Client({ connection, namespace: endpoint.namespace }));
  } finally {
    await connection.close();
  }
}

async function databasesNamed(like: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: POSTGRES });
  await c.connect();
  try {
    const r = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY datname', [`${like}%`]);
    return r.rows.map((row) => row.datname);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  sup = new Supervisor({ stateDir: join(dir, 'supervisor') });
  endpoint = await startTemporalServer(sup, options());
}, 600_000);

afterAll(async () => {
  await sup?.stop();
  await dropTemporalServerDatabases(POSTGRES, prefix);
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('the production Temporal server on PostgreSQL', () => {
  it('creates both databases at the newest schema and keeps the SQL password out of its files', async () => {
    expect(await databasesNamed(prefix)).toEqual([prefix, `${prefix}_visibility`]);
    const versions = await temporalSchemaVersions(parsePostgresUrl(POSTGRES), endpoint.databases);
    expect(versions.main).toMatch(/^1\.\d+$/);
    expect(versions.visibility).toMatch(/^1\.\d+$/);
    const config = readFileSync(join(dir, 'server', 'config.yaml'), 'utf8');
    expect(config).toContain('pluginName: postgres12');
    expect(config).toContain('requireClientAuth: true');
    expect(config).not.toContain(SQL_PASSWORD);
    expect(readFileSync(join(sup.logDir, 'temporal-server.log'), 'utf8')).not.toContain(SQL_PASSWORD);
    await withClient(async (client) => {
      const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace: endpoint.namespace });
      expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining([...SEARCH_ATTRIBUTES]));
    });
  });

  it('runs a workflow over mutual TLS and finds it by our search attributes', async () => {
    const taskQueue = `tsrv-${randomUUID()}`;
    const clusterId = `/subscriptions/${randomUUID()}/resourcegroups/rg/providers/hcs.consul/clusters/prod-temporal`;
    const workerConnection = await NativeConnection.connect(temporalConnectOptions(temporalServerConnection(endpoint)));
    try {
      const worker = await Worker.create({
        connection: workerConnection,
        namespace: endpoint.namespace,
        taskQueue,
        workflowsPath: fileURLToPath(new URL('../fixtures/smoke-workflows.ts', import.meta.url)),
      });
      finished = await withClient((client) =>
        worker.runUntil(async () => {
          const handle = await client.workflow.start('smokeWorkflow', {
            taskQueue,
            workflowId: `tsrv/${randomUUID()}`,
            args: [{ greeting: 'hello over mTLS' }],
            typedSearchAttributes: [
              { key: ClusterId, value: clusterId },
              { key: Operation, value: 'smoke' },
            ],
          });
          return { workflowId: handle.workflowId, result: (await handle.result()) as string };
        }),
      );
    } finally {
      await workerConnection.close();
    }
    expect(finished.result).toBe(`hello over mTLS from ${finished.workflowId}`);
    // SQL visibility is eventually consistent: poll until the query sees the closed workflow.
    const found = await withClient(async (client) => {
      const query = `ClusterId = "${clusterId}" AND Operation = "smoke-done" AND ExecutionStatus = "Completed"`;
      for (const end = Date.now() + 30_000; ;) {
        const ids: string[] = [];
        for await (const wf of client.workflow.list({ query })) ids.push(wf.workflowId);
        if (ids.length > 0 || Date.now() > end) return ids;
        await new Promise((r) => setTimeout(r, 500));
      }
    });
    expect(found).toEqual([finished.workflowId]);
  }, 180_000);

  it('refuses a plaintext client, a client without a certificate and one from another CA', async () => {
    const tls = temporalServerConnection(endpoint).tls!;
    const attempt = async (o: Parameters<typeof Connection.connect>[0]) => {
      const connection = await Connection.connect({ ...o, connectTimeout: 5_000 });
      try {
        await connection.workflowService.getSystemInfo({});
      } finally {
        await connection.close();
      }
    };
    await expect(attempt({ address: endpoint.address })).rejects.toThrow();
    const serverOnly = { serverRootCACertificate: Buffer.from(tls.serverRootCaPem!), serverNameOverride: tls.serverName! };
    await expect(attempt({ address: endpoint.address, tls: serverOnly })).rejects.toThrow();
    const stranger = ensureDevCertificate(join(dir, 'stranger'), ['hcs-control-plane']);
    const strangerPair = { crt: readFileSync(stranger.certFile), key: readFileSync(stranger.keyFile) };
    await expect(attempt({ address: endpoint.address, tls: { ...serverOnly, clientCertPair: strangerPair } })).rejects.toThrow();
    // The worker's native connection (Temporal core) is refused without a certificate as well.
    await expect(NativeConnection.connect({ address: endpoint.address, tls: serverOnly })).rejects.toThrow();
    // And the same settings with our client certificate pass: the refusals are about the certificate.
    await expect(attempt(temporalConnectOptions(temporalServerConnection(endpoint)))).resolves.toBeUndefined();
  });

  it('keeps the finished workflow across a restart (its schema steps run again, idempotently)', async () => {
    expect(finished, 'the workflow test ran first').toBeDefined();
    await sup.stopService('temporal-server');
    endpoint = await startTemporalServer(sup, options());
    const again = await withClient(async (client) => {
      const handle = client.workflow.getHandle(finished!.workflowId);
      return { result: (await handle.result()) as string, status: (await handle.describe()).status.name };
    });
    expect(again).toEqual({ result: finished!.result, status: 'COMPLETED' });
  }, 600_000);

  it('refuses bad options with a precise error before creating anything', async () => {
    const other = `hcs_tsrv_bad_${randomBytes(3).toString('hex')}`;
    await expect(startTemporalServer(sup, { ...options(), databasePrefix: 'Bad-Prefix' })).rejects.toThrow(
      /prefix "Bad-Prefix" must be lower-case letters/,
    );
    await expect(
      startTemporalServer(sup, { ...options(), databasePrefix: other, postgresUrl: 'mysql://root@127.0.0.1/x' }),
    ).rejects.toThrow(/must start with postgres:\/\//);
    await expect(
      startTemporalServer(sup, { ...options(), databasePrefix: other, postgresUrl: 'postgres://127.0.0.1:5432/postgres' }),
    ).rejects.toThrow(/names no user/);
    await expect(startTemporalServer(sup, { ...options(), databasePrefix: other, namespace: 'no spaces allowed' })).rejects.toThrow(
      /invalid Temporal namespace/,
    );
    expect(await databasesNamed(other)).toEqual([]);
  });
});
