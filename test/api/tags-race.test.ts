// Issue 12, item 4: a tags-only PATCH is answered synchronously, but only over the record it
// read and only while no operation runs, so it can never write back an older spec or
// provisioningState over a scale that started meanwhile.
import { randomUUID } from 'node:crypto';
import { expect, inject, it } from 'vitest';
import { getCluster, setTagsIfUnchanged } from '../../store/clusters.js';
import { listOperations } from '../../store/operations.js';
import { clusterBody, clusterPath, rest, V, waitForState } from '../security/support.js';
import { useControlPlane } from '../support/control-plane-fixture.js';

const stack = inject('stack');
const cp = useControlPlane(stack);

it('a stale tags update writes nothing', async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const path = clusterPath(sub, 'rg', 'stale-tags');
  expect((await rest(cp, 'PUT', `${path}?${V}`, { body: clusterBody(stack.tools.consulVersions.at(-1)!, '10.71.0.0/16') })).status).toBe(
    201,
  );
  const read = await waitForState(cp, path, ['Succeeded']);
  const scale = await rest(cp, 'PATCH', `${path}?${V}`, { body: { properties: { serverCount: 5 } } });
  expect(scale.status).toBe(202);
  // What a tags PATCH that read the cluster before the scale would now write:
  const stale = await setTagsIfUnchanged(cp.db, {
    resourceKey: path.toLowerCase(),
    expectedEtag: read.etag,
    tags: { team: 'late' },
    etag: '"stale"',
    systemData: {},
  });
  expect(stale).toBeUndefined();
  const now = await getCluster(cp.db, path.toLowerCase());
  expect(now?.spec.properties.serverCount).toBe(5);
  expect(now?.spec.tags ?? {}).toEqual({});
  // While the scale runs, a tags PATCH gets 409 naming it.
  const during = await rest(cp, 'PATCH', `${path}?${V}`, { body: { tags: { team: 'during' } } });
  if (during.status !== 200) {
    expect(during.status).toBe(409);
    expect(during.json.error.code).toBe('OperationInProgress');
  }
});

it('tags PATCHes racing a scale never revert the scale', async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const version = stack.tools.consulVersions.at(-1)!;
  for (let round = 0; round < 5; round++) {
    const path = clusterPath(sub, 'rg', `race-${round}`);
    expect((await rest(cp, 'PUT', `${path}?${V}`, { body: clusterBody(version, `10.${72 + round}.0.0/16`) })).status).toBe(201);
    await waitForState(cp, path, ['Succeeded']);
    const answers = await Promise.all([
      rest(cp, 'PATCH', `${path}?${V}`, { body: { properties: { serverCount: 5 } } }),
      ...Array.from({ length: 4 }, (_, i) => rest(cp, 'PATCH', `${path}?${V}`, { body: { tags: { n: String(i) } } })),
    ]);
    for (const a of answers) expect([200, 202, 409, 412]).toContain(a.status);
    const scaled = answers[0].status === 202;
    const record = await getCluster(cp.db, path.toLowerCase());
    const ops = await listOperations(cp.db, path.toLowerCase());
    if (scaled) {
      // The scale's spec and state stand, whatever the tags requests did around it.
      expect(record?.spec.properties.serverCount).toBe(5);
      expect(ops.some((o) => o.kind === 'scale')).toBe(true);
      const final = await waitForState(cp, path, ['Succeeded']);
      expect(final.properties.serverCount).toBe(5);
    } else {
      // The tags won the race and the scale was refused with a conflict: nothing started.
      expect(answers[0].status).toBe(409);
      expect(ops.some((o) => o.kind === 'scale')).toBe(false);
    }
  }
});
