// The real store database of the test run (PostgreSQL, or PGlite when none answers), migrated,
// opened in beforeAll and closed in afterAll. Returns a getter: the database exists only once
// the hooks ran.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import { openDatabase, type SqlDatabase } from '../../store/database.js';
import { migrate } from '../../store/migrate.js';
import type { NewOperation } from '../../store/operations.js';

export function useStoreDatabase(): () => SqlDatabase {
  let db: SqlDatabase | undefined;
  beforeAll(async () => {
    db = await openDatabase(inject('stack').database);
    await migrate(db);
  });
  afterAll(async () => db?.close());
  return () => {
    if (!db) throw new Error('the store database is opened in beforeAll');
    return db;
  };
}

/** A new operation of `kind` on the cluster, with a fresh id and its workflow id (test data). */
export function newOperation(resourceKey: string, kind: string): NewOperation {
  const operationId = randomUUID();
  return {
    operationId,
    resourceKey,
    subscriptionId: 'sub',
    location: 'westeurope',
    kind,
    workflowId: `wf-${operationId}`,
    correlationId: null,
  };
}
