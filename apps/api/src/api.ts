// Starts the API: the REST (ARM) server and the gRPC server around one set of handlers.
import type { PayloadCodec } from '@temporalio/common';
import type { Logger } from 'pino';
import type { CatalogueEntry } from '../../../domain/versions.js';
import type { SqlDatabase } from '../../../store/database.js';
import { createAuthenticator, type AuthConfig } from './auth.js';
import { requireTlsBeyondLoopback } from './grpc/credentials.js';
import { startGrpcServer } from './grpc/server.js';
import { createHandlers } from './handlers.js';
import { starterTaskQueue, type OperationStarter } from '../../../lib/operation-starter.js';
import { startOperationRelay, type OperationRelay, type OperationRelayOptions } from '../../../lib/operation-relay.js';
import type { SecretBox } from '../../../lib/secret-box.js';
import { withRateLimit, type RateLimitSettings } from './rate-limit.js';
import { createRestServer } from './rest/server.js';
import { DEFAULT_LIMITS, type ServiceLimits } from './service/quotas.js';
import { sweepSealedResults } from './service/sealed-result.js';
import { checkReadiness, watchReadiness } from './readiness.js';
import { pingDatabase } from '../../../store/health.js';
import { chainAuditLog, pruneAuditLog } from '../../../store/audit-log.js';
import { auditRecorder, DEFAULT_AUDIT_RETENTION_DAYS } from './audit.js';

const AUDIT_PRUNE_INTERVAL_MS = 60 * 60_000;
/** How often every replica moves the audit inbox's rows into the chain (store/audit-log.ts chainAuditLog). */
const AUDIT_CHAIN_INTERVAL_MS = 1_000;

export interface ApiOptions {
  db: SqlDatabase;
  starter: OperationStarter;
  auth: AuthConfig;
  catalogue: CatalogueEntry[];
  allowedLocations?: string[];
  logger: Logger;
  host?: string;
  /** 0 picks a free port. */
  restPort?: number;
  grpcPort?: number;
  /**
   * The certificate REST and gRPC serve (required unless host is loopback); clientCa: the CAs a
   * client certificate must chain to for gRPC to pass it on (default: public roots).
   */
  tls?: { cert: string; key: string; clientCa?: string };
  retryAfterSeconds?: number;
  /** Served at /codec/{encode,decode} for SREs (Temporal UI and CLI codec endpoint). */
  payloadCodec: PayloadCodec;
  /** Origins of the Temporal UIs allowed to call /codec from a browser (CORS, codec sessions). */
  codecCorsOrigins?: readonly string[];
  /** Opens the documents the worker sealed for customers (client configuration, root tokens). */
  sealer: SecretBox;
  /** Quotas and the federation token lifetime; DEFAULT_LIMITS for what is not given. */
  limits?: Partial<ServiceLimits>;
  /** Per-caller request rate limit (rate-limit.ts); none when absent (the process config sets one by default). */
  rateLimit?: RateLimitSettings;
  /** Readiness: each probe's deadline (default 2000 ms) and how often gRPC health is re-checked (default 5000 ms). */
  readiness?: { timeoutMs?: number; intervalMs?: number };
  /** The start relay's timing (lib/operation-relay.ts defaults when absent). */
  relay?: Pick<OperationRelayOptions, 'pollMs' | 'batchSize' | 'leaseMs' | 'startTimeoutMs' | 'backoff'>;
  /** Days audit log rows are kept (DEFAULT_AUDIT_RETENTION_DAYS); every replica prunes hourly, idempotently. */
  auditRetentionDays?: number;
}

export interface RunningApi {
  restUrl: string;
  grpcAddress: string;
  /** The API's start relay (lib/operation-relay.ts): `drain` waits until no start request is due. */
  relay: Pick<OperationRelay, 'nudge' | 'drain'>;
  close(): Promise<void>;
}

/**
 * The API built in-process without listening: the shared handlers, the authenticator both
 * transports use, and the REST server (fastify: tests drive it with inject(), no socket).
 */
export async function buildApi(o: ApiOptions) {
  // Operations commit with their workflow's start request and the API answers; this relay starts
  // the workflows (nudged after each commit), as the worker's does (lib/operation-relay.ts).
  const relay = startOperationRelay({ ...o.relay, db: o.db, starter: o.starter, taskQueue: starterTaskQueue(o.starter), log: o.logger });
  const handlers = createHandlers({
    db: o.db,
    starter: o.starter,
    relay,
    catalogue: o.catalogue,
    sealer: o.sealer,
    ...(o.allowedLocations ? { allowedLocations: o.allowedLocations } : {}),
    limits: { ...DEFAULT_LIMITS, ...o.limits },
  });
  // Both transports authenticate every call through this; the caller's rate is checked with it.
  const authenticate = withRateLimit(createAuthenticator(o.auth), o.rateLimit);
  // Every mutating request on either transport is recorded before it is answered (audit.ts).
  const audit = auditRecorder(o.db);
  const timeoutMs = o.readiness?.timeoutMs ?? 2_000;
  const readiness = () =>
    checkReadiness({ database: () => pingDatabase(o.db), temporal: () => o.starter.ping(timeoutMs) }, { timeoutMs, logger: o.logger });
  const rest = await createRestServer({
    handlers,
    authenticate,
    logger: o.logger,
    ...(o.tls ? { tls: o.tls } : {}),
    ...(o.retryAfterSeconds !== undefined ? { retryAfterSeconds: o.retryAfterSeconds } : {}),
    payloadCodec: o.payloadCodec,
    ...(o.codecCorsOrigins ? { codecCorsOrigins: o.codecCorsOrigins } : {}),
    readiness,
    audit,
  });
  // Closing the REST server (tests that build the API without listening) stops the relay too.
  rest.addHook('onClose', async () => relay.stop());
  return { handlers, authenticate, rest, readiness, relay, audit };
}

export async function startApi(o: ApiOptions): Promise<RunningApi> {
  const host = o.host ?? '127.0.0.1';
  requireTlsBeyondLoopback(host, o.tls);
  const { handlers, authenticate, rest, readiness, relay, audit } = await buildApi(o);
  await rest.listen({ host, port: o.restPort ?? 0 });
  const addr = rest.server.address();
  const restPort = typeof addr === 'object' && addr ? addr.port : 0;
  // Unread root-token results expire (see rootTokenResult); every replica sweeps, idempotently.
  const sweep = setInterval(() => {
    sweepSealedResults(o.db).catch((err: unknown) => o.logger.warn({ err }, 'sweeping expired sealed results failed'));
  }, 60_000);
  sweep.unref();
  // Audit log rows past their retention go; the chain stays verifiable from the last one pruned.
  const retentionDays = o.auditRetentionDays ?? DEFAULT_AUDIT_RETENTION_DAYS;
  const prune = () => pruneAuditLog(o.db, retentionDays).catch((err: unknown) => o.logger.warn({ err }, 'pruning the audit log failed'));
  void prune();
  const pruning = setInterval(() => void prune(), AUDIT_PRUNE_INTERVAL_MS);
  pruning.unref();
  // Appended rows wait in the audit inbox (no lock between appends) until chained: here, every second.
  const chaining = setInterval(() => {
    chainAuditLog(o.db).catch((err: unknown) => o.logger.warn({ err }, 'chaining the audit log failed'));
  }, AUDIT_CHAIN_INTERVAL_MS);
  chaining.unref();
  const grpc = await startGrpcServer({
    handlers,
    authenticate,
    logger: o.logger,
    host,
    port: o.grpcPort ?? 0,
    ...(o.tls ? { tls: o.tls } : {}),
    // ARM's client certificate, trusted by thumbprint as on REST.
    requestClientCertificates: o.auth.armCertificateThumbprints.length > 0,
    audit,
  });
  // gRPC health follows readiness: NOT_SERVING while the store or Temporal does not answer.
  const stopWatching = watchReadiness(
    readiness,
    (r) => {
      grpc.setServing(r.ready);
      if (r.ready) o.logger.info({ checks: r.checks }, 'ready');
      else o.logger.warn({ checks: r.checks }, 'not ready');
    },
    o.readiness?.intervalMs ?? 5_000,
  );
  return {
    restUrl: `${o.tls ? 'https' : 'http'}://${host}:${restPort}`,
    grpcAddress: grpc.address,
    relay,
    async close() {
      clearInterval(sweep);
      clearInterval(pruning);
      clearInterval(chaining);
      stopWatching();
      await grpc.close();
      await rest.close();
      await relay.stop();
    },
  };
}
