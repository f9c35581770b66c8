// Issue 11, item 5 (Temporal): the API's and the worker's connections to Temporal use TLS and
// client certificates from configuration, and neither starts against an address off loopback
// without TLS. The real Temporal server sits behind a TLS terminator that demands a pinned client
// certificate, as a production frontend with mutual TLS does.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readConfig } from '../../apps/control-plane/src/api-config.js';
import { temporalOperationStarter } from '../../lib/operation-starter.js';
import { AesGcmPayloadCodec, parsePayloadKeys } from '../../lib/payload-codec.js';
import { startWorker } from '../../apps/worker/src/worker.js';
import { ensureDevCertificate } from '../../lib/dev-tls.js';
import { temporalConnectOptions, type TemporalConnectionConfig } from '../../lib/temporal-connection.js';
import { openDatabase, type SqlDatabase } from '../../store/database.js';

const stack = inject('stack');
const dir = mkdtempSync(join(tmpdir(), 'hcs-temporal-tls-'));
const server = ensureDevCertificate(join(dir, 'server'));
const client = ensureDevCertificate(join(dir, 'client'), ['worker.hcs.test']);
const stranger = ensureDevCertificate(join(dir, 'stranger'), ['worker.hcs.test']);
const pem = (f: string) => readFileSync(f, 'utf8');
const codec = new AesGcmPayloadCodec(parsePayloadKeys(`k:${Buffer.alloc(32, 7).toString('base64')}`));

let proxy: Server;
let proxyAddress: string;
const refused: string[] = [];

beforeAll(async () => {
  const pinned = new X509Certificate(pem(client.certFile)).fingerprint256;
  const [host, port] = [stack.temporal.address.split(':')[0]!, Number(stack.temporal.address.split(':')[1])];
  proxy = createServer(
    { cert: pem(server.certFile), key: pem(server.keyFile), requestCert: true, rejectUnauthorized: false, ALPNProtocols: ['h2'] },
    (socket: TLSSocket) => {
      const peer = socket.getPeerX509Certificate();
      if (!peer || peer.fingerprint256 !== pinned) {
        refused.push(peer ? 'foreign certificate' : 'no certificate');
        socket.destroy();
        return;
      }
      const upstream = netConnect({ host, port });
      socket.pipe(upstream).pipe(socket);
      const close = () => {
        socket.destroy();
        upstream.destroy();
      };
      socket.on('error', close);
      upstream.on('error', close);
    },
  );
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyAddress = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => proxy?.close(() => r()));
});

const withTls = (cert = client): TemporalConnectionConfig => ({
  address: proxyAddress,
  namespace: stack.temporal.namespace,
  tls: { serverRootCaPem: server.caCertPem, clientCertPem: pem(cert.certFile), clientKeyPem: pem(cert.keyFile) },
});

describe('mutual TLS to the real Temporal server', () => {
  it('the API client (grpc-js) and the worker connection (Temporal core) both connect with the configured client certificate', async () => {
    const connection = await Connection.connect(temporalConnectOptions(withTls()));
    try {
      const info = await connection.workflowService.getSystemInfo({});
      expect(info.serverVersion).toMatch(/^\d+\.\d+/);
      const namespaces = await new Client({ connection, namespace: stack.temporal.namespace }).workflowService.describeNamespace({
        namespace: stack.temporal.namespace,
      });
      expect(namespaces.namespaceInfo?.name).toBe(stack.temporal.namespace);
    } finally {
      await connection.close();
    }
    const native = await NativeConnection.connect(temporalConnectOptions(withTls()));
    await native.close();
  });

  it('without the pinned client certificate the connection is refused', async () => {
    refused.length = 0;
    await expect(
      (async () => {
        const c = await Connection.connect({ ...temporalConnectOptions(withTls(stranger)), connectTimeout: 3_000 });
        try {
          await c.workflowService.getSystemInfo({});
        } finally {
          await c.close();
        }
      })(),
    ).rejects.toThrow();
    expect(refused).toContain('foreign certificate');
  });
});

describe('plaintext only on loopback', () => {
  const payloadKeysFile = join(dir, 'payload-keys');
  writeFileSync(payloadKeysFile, `k:${Buffer.alloc(32, 1).toString('base64')}`, { mode: 0o600 });
  const env = (extra: Record<string, string>) => ({
    HCS_DATABASE: JSON.stringify({ kind: 'pglite', dataDir: join(dir, 'db') }),
    HCS_AUTH: '{}',
    HCS_CONSUL_CATALOGUE: '[]',
    HCS_PAYLOAD_KEYS_FILE: payloadKeysFile,
    ...extra,
  });

  it('the configuration refuses a remote Temporal without TLS, naming the settings, and accepts it with them', () => {
    expect(() => readConfig(env({ HCS_TEMPORAL_ADDRESS: 'temporal.internal.example:7233' }))).toThrow(/HCS_TEMPORAL_TLS_CA_FILE/);
    expect(() => readConfig(env({ HCS_TEMPORAL_ADDRESS: '10.20.0.5:7233' }))).toThrow(/not on loopback/);
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, server.caCertPem);
    const keyFile = join(dir, 'api-key');
    writeFileSync(keyFile, 'not-a-real-key\n', { mode: 0o600 });
    expect(() => readConfig(env({ HCS_TEMPORAL_ADDRESS: '10.20.0.5:7233', HCS_TEMPORAL_TLS_CERT_FILE: client.certFile }))).toThrow(
      /HCS_TEMPORAL_TLS_KEY_FILE/,
    );
    expect(() => readConfig(env({ HCS_TEMPORAL_ADDRESS: '127.0.0.1:7233', HCS_TEMPORAL_API_KEY_FILE: keyFile }))).toThrow(/needs TLS/);
    const ok = readConfig(
      env({ HCS_TEMPORAL_ADDRESS: '10.20.0.5:7233', HCS_TEMPORAL_TLS_CA_FILE: caFile, HCS_TEMPORAL_API_KEY_FILE: keyFile }),
    );
    expect(ok.temporal).toMatchObject({ address: '10.20.0.5:7233', tls: { serverRootCaPem: server.caCertPem }, apiKey: 'not-a-real-key' });
    expect(readConfig(env({ HCS_TEMPORAL_ADDRESS: '127.0.0.1:7233' })).temporal.tls).toBeUndefined();
  });

  it('the API starter and the worker refuse to connect to a remote Temporal in plaintext', async () => {
    const remote = { address: '192.0.2.10:7233', namespace: 'default' };
    await expect(temporalOperationStarter({ temporal: remote, payloadCodec: codec })).rejects.toThrow(/not on loopback/);
    let db: SqlDatabase | undefined;
    try {
      db = await openDatabase(stack.database);
      await expect(startWorker({ temporal: remote, db, payloadCodec: codec })).rejects.toThrow(/not on loopback/);
    } finally {
      await db?.close();
    }
  });
});
