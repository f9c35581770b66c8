// beginOperation, the one way an operation is recorded, against a concurrent begin on the real
// store database: when two transactions both pass the one-operation check before either has
// committed, the unique index lets exactly one record its operation; the other is refused with
// the same OperationInProgressError the check gives, naming the winner, and its transaction
// (its own writes included) changes nothing.
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { newOperation, useStoreDatabase } from '../support/store-fixture.js';
import { beginOperation, listOperations, OperationInProgressError } from '../../store/operations.js';

const database = useStoreDatabase();

function newCluster(): string {
  return `/subscriptions/${randomUUID()}/resourcegroups/rg/providers/hcs.consul/clusters/race`;
}
async function insertCluster(resourceKey: string): Promise<void> {
  await database().query(
    `INSERT INTO clusters (resource_id, display_id, subscription_id, resource_group, name, location, spec, provisioning_state, etag)
     VALUES ($1, $1, 'sub', 'rg', 'race', 'westeurope', '{}'::jsonb, 'Succeeded', '"e0"')`,
    [resourceKey],
  );
}
const tags = async (resourceKey: string) =>
  (await database().query<{ tags: Record<string, string> }>(`SELECT tags FROM clusters WHERE resource_id = $1`, [resourceKey])).rows[0]
    ?.tags;

for (const [first, second] of [
  ['update', 'scale'],
  ['rotate', 'snapshot'],
  ['upgrade', 'upgrade'],
] as const) {
  it(`two concurrent begins (${first}, ${second}) for one cluster: exactly one wins, the other is refused naming it`, async () => {
    const key = newCluster();
    await insertCluster(key);
    const a = newOperation(key, first);
    const b = newOperation(key, second);
    let inserted!: () => void;
    const aInserted = new Promise<void>((r) => (inserted = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // A records its operation and holds its transaction open: B's check cannot see it yet.
    const winner = database().transaction(async (tx) => {
      const op = await beginOperation(tx, a);
      inserted();
      await gate;
      return op;
    });
    await aInserted;
    const loser = database()
      .transaction(async (tx) => {
        await tx.query(`UPDATE clusters SET tags = '{"written":"by the loser"}'::jsonb WHERE resource_id = $1`, [key]);
        return beginOperation(tx, b);
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    // Let B reach its insert (PostgreSQL: it waits on the index for A; PGlite runs one transaction at a time).
    await new Promise((r) => setTimeout(r, 300));
    release();
    const won = await winner;
    const err = await loser;
    expect(err).toBeInstanceOf(OperationInProgressError);
    expect((err as OperationInProgressError).running.operationId).toBe(a.operationId);
    const ops = await listOperations(database(), key);
    expect(ops.map((o) => o.operationId)).toEqual([a.operationId]);
    expect(ops[0]).toMatchObject({ status: won.status, kind: first });
    expect(await tags(key)).toEqual({});
  });
}

it('a begin that loses the race leaves its transaction usable: the caller can still read and write in it', async () => {
  const key = newCluster();
  await insertCluster(key);
  const a = newOperation(key, 'update');
  let inserted!: () => void;
  const aInserted = new Promise<void>((r) => (inserted = r));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const winner = database().transaction(async (tx) => {
    await beginOperation(tx, a);
    inserted();
    await gate;
  });
  await aInserted;
  const after = database().transaction(async (tx) => {
    const refused = await beginOperation(tx, newOperation(key, 'scale')).catch((err: unknown) => err);
    // Still usable (no aborted transaction): the caller decides what to do next.
    const { rows } = await tx.query<{ n: string | number }>(`SELECT count(*) AS n FROM operations WHERE resource_id = $1`, [key]);
    return { refused, seen: Number(rows[0]!.n) };
  });
  await new Promise((r) => setTimeout(r, 300));
  release();
  await winner;
  const { refused, seen } = await after;
  expect(refused).toBeInstanceOf(OperationInProgressError);
  expect((refused as OperationInProgressError).running.operationId).toBe(a.operationId);
  expect(seen).toBe(1);
});
