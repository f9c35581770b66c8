// The real store database of the test run (PostgreSQL, or PGlite when none answers), migrated,
// opened in beforeAll and closed in afterAll. Returns a getter: the database exists only once
// the hooks ran.
import { afterAll, beforeAll, inject } from 'vitest';
import { openDatabase, type SqlDatabase } from '../../store/database.js';
import { migrate } from '../../store/migrate.js';

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
