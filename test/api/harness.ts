// Brings up our API and worker on the real stack (Temporal, the store database) for one test
// file, with HTTPS, a JWT issuer of the test's own and operator tokens for every role.
import { deriveSealingKeys, SecretBox } from '../../lib/secret-box.js';
import { STAND_IN_WORKFLOW_TYPES } from '../../contract/temporal.js';
import { generateKeyPair, exportJWK, SignJWT, type JWK } from 'jose';
import { X509Certificate, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Writable } from 'node:stream';
import { createLogger } from '../../lib/logger.js';
import { PinoTemporalLogger } from '../../lib/temporal-logger.js';
import { installTemporalRuntime } from '../../lib/temporal-runtime.js';
import { startApi, type ApiOptions, type RunningApi } from '../../apps/api/src/api.js';
import { sha256Hex, type AuthConfig } from '../../apps/api/src/auth.js';
import type { Role } from '../../apps/api/src/context.js';
import type { RateLimitSettings } from '../../apps/api/src/rate-limit.js';
import type { ServiceLimits } from '../../apps/api/src/service/quotas.js';
import { temporalOperationStarter, type OperationStarter } from '../../lib/operation-starter.js';
import { AesGcmPayloadCodec, parsePayloadKeys } from '../../lib/payload-codec.js';
import { buildLifecycleDeps, type ParsedLifecycleConfig } from '../../apps/worker/src/lifecycle-config.js';
import { startWorker } from '../../apps/worker/src/worker.js';
import { startOpsServer } from '../../apps/worker/src/ops-server.js';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { StackEndpoints } from '../../devstack/stack.js';
import { ensureDevCertificate } from '../../lib/dev-tls.js';
import { openDatabase, type SqlDatabase } from '../../store/database.js';
import { migrate } from '../../store/migrate.js';
import { putSubscription } from '../../store/subscriptions.js';

export const ARM_ISSUER = 'https://sts.test.hcs/arm/';
export const USER_ISSUER = 'https://sts.test.hcs/users/';
export const AUDIENCE = 'https://management.hcs.test';
/** The application id ARM's tokens carry (appid); the ARM issuer accepts no other. */
export const ARM_APP_ID = 'a6f1c0de-0000-4000-8000-00000000a2a0';
const OPERATOR: Role = 'operator';

export interface ControlPlane {
  api: RunningApi;
  db: SqlDatabase;
  /** The task queue this control plane's workflows run on. */
  taskQueue: string;
  /** The payload keys (`id:base64key`), the owner-only file holding them (HCS_PAYLOAD_KEYS_FILE) and the codec, for an external worker and history reads. */
  payloadKeys: string;
  payloadKeysFile: string;
  payloadCodec: AesGcmPayloadCodec;
  caCertPem: string;
  /** Client certificates for mutual TLS: ARM's is trusted by thumbprint, the stranger's is not. */
  clientCerts: { arm: { cert: string; key: string }; stranger: { cert: string; key: string } };
  /** Operator tokens by role, scoped to all subscriptions. */
  tokens: Record<Role, string>;
  /** Subscriptions (registered) that have an operator token scoped to them alone. */
  scopedSubscriptionIds: string[];
  /** Operator token scoped to one of scopedSubscriptionIds, operator role. */
  scopedToken(subscriptionId: string): string;
  /** Records the subscription as Registered, as ARM's subscription lifecycle PUT does before any write. */
  registerSubscription(subscriptionId: string, tenantId?: string): Promise<void>;
  /** A JWT from the ARM issuer (full access) or the user issuer (claims decide). */
  mintJwt(kind: 'arm' | 'user', claims?: Record<string, unknown>): Promise<string>;
  /** The worker's ops server (/metrics, /healthz, /readyz) when started with workerOps. */
  workerOpsUrl?: string;
  close(): Promise<void>;
}

export interface ControlPlaneOptions {
  /**
   * Run the real lifecycle workflows with this worker configuration (end-to-end tests);
   * without it every operation runs the stand-in, so API tests exercise the API alone.
   */
  lifecycle?: ParsedLifecycleConfig;
  /** The worker's server health check (HCS_SERVER_HEALTH_CHECK_SECONDS, HCS_SERVER_REPAIR_AFTER_SECONDS), for one subscription's clusters. */
  serverHealth?: { everySeconds: number; repairAfterSeconds: number; subscriptionId: string };
  /** Start no worker here: the test runs one in its own process (chaos tests). */
  externalWorker?: boolean;
  /** Wraps the API's workflow starter (tests inject start failures and timeouts). */
  starter?: (real: OperationStarter) => OperationStarter;
  /** The API's start relay timing (lib/operation-relay.ts defaults when absent). */
  relay?: ApiOptions['relay'];
  /** Adjusts the authentication settings (security tests add issuers or keys of their own). */
  auth?: (base: AuthConfig) => AuthConfig;
  /** Quotas and the federation token lifetime (the API's defaults for what is not given). */
  limits?: Partial<ServiceLimits>;
  /** A per-caller rate limit; none by default (the API tests send thousands of requests as one caller). */
  rateLimit?: RateLimitSettings;
  /**
   * Start the worker's ops server (apps/worker/src/ops-server.ts) on a free loopback port, with the
   * Temporal runtime's metrics endpoint at this address when the file installed one (lib/temporal-runtime.ts).
   */
  workerOps?: { temporalMetricsAddress?: string };
  /** Come back as this (stopped) control plane: its task queue and payload keys, as a restarted deployment would. */
  restartOf?: Pick<ControlPlane, 'taskQueue' | 'payloadKeys'>;
  /**
   * Write the API's and the worker's log lines here (lib/logger.ts JSON, debug level; the worker's
   * through the Temporal runtime's logger, so the file must be the first in its process to start one).
   */
  logs?: Writable;
}

export async function startControlPlane(stack: StackEndpoints, options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const db = await openDatabase(stack.database);
  await migrate(db);
  const taskQueue = options.restartOf?.taskQueue ?? `api-test-${randomUUID()}`;
  // One runtime per test process; keep the worker's own logging to warnings unless the file captures it.
  if (options.logs)
    installTemporalRuntime({
      logger: new PinoTemporalLogger(createLogger({ service: 'worker', level: 'debug', destination: options.logs })),
    });
  else
    try {
      Runtime.install({ logger: new DefaultLogger(process.env.HCS_TEST_VERBOSE ? 'INFO' : 'WARN') });
    } catch {
      /* already installed by an earlier test file in this process */
    }
  const catalogue = stack.tools.consulVersions.map((v, i, all) => ({
    version: v,
    status: i === all.length - 1 ? ('RECOMMENDED' as const) : ('AVAILABLE' as const),
  }));
  const payloadKeys = options.restartOf?.payloadKeys ?? `test-1:${randomBytes(32).toString('base64')}`;
  const payloadKeysFile = join(mkdtempSync(join(tmpdir(), 'hcs-payload-keys-')), 'payload-keys');
  writeFileSync(payloadKeysFile, payloadKeys, { mode: 0o600 });
  const payloadCodec = new AesGcmPayloadCodec(parsePayloadKeys(payloadKeys));
  const sealer = new SecretBox(deriveSealingKeys(parsePayloadKeys(payloadKeys)));
  const worker = options.externalWorker
    ? undefined
    : await startWorker({
        temporal: stack.temporal,
        db,
        taskQueue,
        payloadCodec,
        ...(options.lifecycle ? { lifecycle: buildLifecycleDeps(options.lifecycle, { db, sealer }) } : {}),
        ...(options.serverHealth ? { serverHealth: options.serverHealth } : {}),
        catalogue,
      });
  const ops =
    worker && options.workerOps
      ? await startOpsServer({
          host: '127.0.0.1',
          port: 0,
          db,
          worker,
          ...(options.workerOps.temporalMetricsAddress ? { temporalMetricsAddress: options.workerOps.temporalMetricsAddress } : {}),
        })
      : undefined;
  const realStarter = await temporalOperationStarter({
    temporal: stack.temporal,
    taskQueue,
    payloadCodec,
    ...(options.lifecycle ? {} : { workflowTypes: STAND_IN_WORKFLOW_TYPES }),
  });
  const starter = options.starter ? options.starter(realStarter) : realStarter;

  const keys = { arm: await generateKeyPair('ES256'), user: await generateKeyPair('ES256') };
  const jwk = async (k: Parameters<typeof exportJWK>[0], kid: string): Promise<JWK> => ({
    ...(await exportJWK(k)),
    kid,
    alg: 'ES256',
    use: 'sig',
  });
  const tokens = Object.fromEntries(
    (['reader', 'operator', 'admin'] as Role[]).map((r) => [r, `hcsop_${r}_${randomBytes(16).toString('hex')}`]),
  ) as Record<Role, string>;
  const scoped = new Map<string, string>();
  const scopedSubs = Array.from({ length: 3 }, () => randomUUID());
  for (const s of scopedSubs) {
    scoped.set(s, `hcsop_scoped_${randomBytes(16).toString('hex')}`);
    await putSubscription(db, { subscriptionId: s, state: 'Registered', tenantId: null, properties: {} });
  }
  // Two client certificates: ARM's (trusted by thumbprint) and a stranger's.
  const certDir = mkdtempSync(join(tmpdir(), 'hcs-api-clients-'));
  const armClient = ensureDevCertificate(join(certDir, 'arm'), ['arm.client.test']);
  const strangerClient = ensureDevCertificate(join(certDir, 'stranger'), ['stranger.client.test']);
  const pem = (c: { certFile: string; keyFile: string }) => ({
    cert: readFileSync(c.certFile, 'utf8'),
    key: readFileSync(c.keyFile, 'utf8'),
  });
  const auth: AuthConfig = {
    armCertificateThumbprints: [new X509Certificate(readFileSync(armClient.certFile)).fingerprint],
    jwtIssuers: [
      {
        issuer: ARM_ISSUER,
        audience: AUDIENCE,
        kind: 'arm',
        applicationIds: [ARM_APP_ID],
        jwks: { keys: [await jwk(keys.arm.publicKey, 'arm-1')] },
      },
      { issuer: USER_ISSUER, audience: AUDIENCE, kind: 'user', jwks: { keys: [await jwk(keys.user.publicKey, 'user-1')] } },
    ],
    operatorTokens: [
      ...Object.entries(tokens).map(([role, t]) => ({
        name: `test-${role}`,
        sha256: sha256Hex(t),
        role: role as Role,
        subscriptions: '*' as const,
      })),
      ...[...scoped].map(([sub, t]) => ({ name: `scoped-${sub}`, sha256: sha256Hex(t), role: OPERATOR, subscriptions: [sub] })),
    ],
  };
  const tls = ensureDevCertificate(join(mkdtempSync(join(tmpdir(), 'hcs-api-tls-')), 'tls'));
  const api = await startApi({
    db,
    starter,
    auth: options.auth ? options.auth(auth) : auth,
    catalogue,
    logger: options.logs
      ? createLogger({ service: 'api', level: 'debug', destination: options.logs })
      : pino({ level: process.env.HCS_TEST_VERBOSE ? 'info' : 'silent' }),
    // gRPC passes on client certificates that chain to these CAs (REST looks at the thumbprint alone).
    tls: {
      cert: readFileSync(tls.certFile, 'utf8'),
      key: readFileSync(tls.keyFile, 'utf8'),
      clientCa: armClient.caCertPem + strangerClient.caCertPem,
    },
    retryAfterSeconds: 1,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
    ...(options.relay ? { relay: options.relay } : {}),
    payloadCodec,
    sealer,
  });
  return {
    api,
    db,
    taskQueue,
    payloadKeys,
    payloadKeysFile,
    payloadCodec,
    caCertPem: tls.caCertPem,
    clientCerts: { arm: pem(armClient), stranger: pem(strangerClient) },
    tokens,
    scopedSubscriptionIds: scopedSubs,
    scopedToken(subscriptionId) {
      const t = scoped.get(subscriptionId);
      if (!t) throw new Error(`no scoped token for ${subscriptionId}; use one of ${scopedSubs.join(', ')}`);
      return t;
    },
    async registerSubscription(subscriptionId, tenantId) {
      await putSubscription(db, { subscriptionId, state: 'Registered', tenantId: tenantId ?? null, properties: {} });
    },
    async mintJwt(kind, claims = {}) {
      return new SignJWT(kind === 'arm' ? { appid: ARM_APP_ID, ...claims } : claims)
        .setProtectedHeader({ alg: 'ES256', kid: `${kind}-1` })
        .setIssuer(kind === 'arm' ? ARM_ISSUER : USER_ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(`${kind}-caller`)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(keys[kind].privateKey);
    },
    ...(ops ? { workerOpsUrl: ops.url } : {}),
    async close() {
      await ops?.close();
      await api.close();
      await starter.close();
      await worker?.shutdown();
      await db.close();
    },
  };
}
