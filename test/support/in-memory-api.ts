// The API in-process for tests that need no Temporal: buildApi on an in-memory PGlite store
// (driven with fastify's inject()), operator tokens made up per test file, and an in-memory
// stand-in of our own OperationStarter interface that records what the API's start relay
// (lib/operation-relay.ts) asked it to start or what the API asked it to cancel.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { buildApi, type ApiOptions } from '../../apps/api/src/api.js';
import { sha256Hex } from '../../apps/api/src/auth.js';
import { AesGcmPayloadCodec, parsePayloadKeys } from '../../lib/payload-codec.js';
import { deriveSealingKeys, SecretBox } from '../../lib/secret-box.js';
import { openDatabase, type SqlDatabase } from '../../store/database.js';
import { migrate } from '../../store/migrate.js';
import { putSubscription } from '../../store/subscriptions.js';

export type Starter = ApiOptions['starter'];
export type StartInput = Parameters<Starter['start']>[0];

/** The starter as the API sees it, in memory: every start and cancel is recorded, nothing runs. */
export function inMemoryStarter(): Starter & { started: StartInput[]; cancelled: string[] } {
  const started: StartInput[] = [];
  const cancelled: string[] = [];
  return {
    started,
    cancelled,
    async start(input) {
      started.push(input);
    },
    async cancel(workflowId) {
      cancelled.push(workflowId);
    },
    async find(workflowId) {
      return started.some((s) => s.workflowId === workflowId) ? 'running' : 'absent';
    },
    // The in-memory engine is always there.
    async ping() {},
    async close() {},
  };
}

/** An operator token of the test: its secret is made here, the API holds only its hash. */
export interface TestToken<N extends string = string> {
  name: N;
  role: 'operator' | 'reader';
  subscriptions: string[] | '*';
}

export interface InMemoryApi<N extends string = string> {
  db: SqlDatabase;
  built: Awaited<ReturnType<typeof buildApi>>;
  /** Each token's bearer secret, by name. */
  tokens: Record<N, string>;
  close(): Promise<void>;
}

/** The Consul version the catalogue of these APIs offers (RECOMMENDED). */
export const IN_MEMORY_VERSION = '1.22.7';

export async function inMemoryApi<N extends string>(o: {
  /** Registered in the store before the API starts. */
  subscriptions?: string[];
  tokens: Array<TestToken<N>>;
  starter: Starter;
  options?: Partial<ApiOptions>;
}): Promise<InMemoryApi<N>> {
  const db = await openDatabase({ kind: 'pglite', dataDir: 'memory://' });
  await migrate(db);
  for (const s of o.subscriptions ?? [])
    await putSubscription(db, { subscriptionId: s, state: 'Registered', tenantId: null, properties: {} });
  const tokens = Object.fromEntries(o.tokens.map((t) => [t.name, `hcsop_${t.name}_${randomBytes(16).toString('hex')}`])) as Record<
    N,
    string
  >;
  const keys = parsePayloadKeys(`mem-1:${randomBytes(32).toString('base64')}`);
  const built = await buildApi({
    db,
    starter: o.starter,
    auth: {
      armCertificateThumbprints: [],
      jwtIssuers: [],
      operatorTokens: o.tokens.map((t) => ({
        name: t.name,
        sha256: sha256Hex(tokens[t.name]),
        role: t.role,
        subscriptions: t.subscriptions,
      })),
    },
    catalogue: [{ version: IN_MEMORY_VERSION, status: 'RECOMMENDED' }],
    logger: pino({ level: 'silent' }),
    payloadCodec: new AesGcmPayloadCodec(keys),
    sealer: new SecretBox(deriveSealingKeys(keys)),
    ...o.options,
  });
  return {
    db,
    built,
    tokens,
    async close() {
      await built.rest.close();
      await db.close();
    },
  };
}

/** inMemoryApi for a whole test file: built in beforeAll, closed in afterAll; read it in tests. */
export interface UsedInMemoryApi<N extends string> {
  readonly db: SqlDatabase;
  readonly rest: InMemoryApi['built']['rest'];
  readonly relay: InMemoryApi['built']['relay'];
  readonly tokens: Record<N, string>;
}

export function useInMemoryApi<N extends string>(o: Parameters<typeof inMemoryApi<N>>[0]): UsedInMemoryApi<N> {
  let memory: InMemoryApi<N> | undefined;
  beforeAll(async () => {
    memory = await inMemoryApi(o);
  }, 120_000);
  afterAll(async () => {
    await memory?.close();
  });
  const ready = () => {
    if (!memory) throw new Error('the in-memory API is not built yet (read it inside a test or hook)');
    return memory;
  };
  return {
    get db() {
      return ready().db;
    },
    get rest() {
      return ready().built.rest;
    },
    get relay() {
      return ready().built.relay;
    },
    get tokens() {
      return ready().tokens;
    },
  };
}
