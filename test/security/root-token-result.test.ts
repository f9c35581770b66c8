// Issue 11, item 3: a new root token (the result of createRootToken) is readable only by an
// operator of the cluster's subscription, once, within 15 minutes; then it is gone from the store.
// Readers and callers of other subscriptions get the same 404 as for a result that never existed,
// and reading the operation (status, list) never shows it. The API contract tests run the stand-in
// workflow, so the test writes the sealed result exactly as the worker's rotateRootToken activity
// does (tested end to end in test/lifecycle/cluster-lifecycle.test.ts).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { rootTokenResultName, sealContext } from '../../contract/secret-names.js';
import { sweepSealedResults } from '../../apps/api/src/service/sealed-result.js';
import { parsePayloadKeys } from '../../lib/payload-codec.js';
import { deriveSealingKeys, SecretBox } from '../../lib/secret-box.js';
import { getSecret, putSecret } from '../../store/secrets.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { clusterBody, clusterPath, rest, V, waitForState } from './support.js';

const stack = inject('stack');
let cp: ControlPlane;
let sealer: SecretBox;
const sub = randomUUID();
const path = clusterPath(sub, 'rg', 'vault-of-secrets');
const key = path.toLowerCase();

beforeAll(async () => {
  cp = await startControlPlane(stack);
  sealer = new SecretBox(deriveSealingKeys(parsePayloadKeys(cp.payloadKeys)));
  await cp.registerSubscription(sub);
  expect((await rest(cp, 'PUT', `${path}?${V}`, { body: clusterBody(stack.tools.consulVersions.at(-1)!, '10.64.0.0/16') })).status).toBe(
    201,
  );
  await waitForState(cp, path, ['Succeeded']);
});
afterAll(async () => {
  await cp?.close();
});

/** Runs createRootToken to its end and stores a sealed result as the worker does; returns the Location path. */
async function rotatedToken(): Promise<{ location: string; operationId: string; secretId: string }> {
  const started = await rest(cp, 'POST', `${path}/createRootToken?${V}`);
  expect(started.status).toBe(202);
  const location = new URL(String(started.headers.location)).pathname + `?${V}`;
  const operationId = location.split('/operationResults/')[1]!.split('?')[0]!;
  for (let r = await rest(cp, 'GET', location); r.status === 202; r = await rest(cp, 'GET', location)) {
    await new Promise((res) => setTimeout(res, 100));
  }
  const secretId = randomUUID();
  const name = rootTokenResultName(operationId);
  await putSecret(cp.db, key, name, sealer.seal(JSON.stringify({ accessorId: randomUUID(), secretId }), sealContext(key, name)));
  return { location, operationId, secretId };
}

describe('the root-token result', () => {
  it('readers, other subscriptions and strangers get 404 and consume nothing; the operator reads it once; then it is gone', async () => {
    const { location, operationId, secretId } = await rotatedToken();
    const name = rootTokenResultName(operationId);
    const reader = await cp.mintJwt('user', { roles: ['HCS.Reader'], hcs_subscriptions: [sub] });
    const otherOperator = await cp.mintJwt('user', { roles: ['HCS.Operator'], hcs_subscriptions: [randomUUID()] });
    for (const token of [reader, cp.tokens.reader, otherOperator, cp.scopedToken(cp.scopedSubscriptionIds[0]!)]) {
      const r = await rest(cp, 'GET', location, { token });
      expect(r.status).toBe(404);
      expect(JSON.stringify(r.json)).not.toContain(secretId);
    }
    expect((await rest(cp, 'GET', location, { token: null })).status).toBe(401);
    expect(await getSecret(cp.db, key, name)).toBeDefined();

    // Nothing about the operation shows the token.
    const listed = await rest(cp, 'GET', `${path}/operations?${V}`, { token: reader });
    expect(listed.status).toBe(200);
    const status = await rest(cp, 'GET', location.replace('/operationResults/', '/operationStatuses/'), { token: reader });
    expect(status.status).toBe(200);
    expect(JSON.stringify([listed.json, status.json])).not.toContain(secretId);

    const operator = await cp.mintJwt('user', { roles: ['HCS.Operator'], hcs_subscriptions: [sub] });
    const first = await rest(cp, 'GET', location, { token: operator });
    expect(first.status).toBe(200);
    expect(first.json.secretId).toBe(secretId);
    expect(first.headers['cache-control']).toBe('no-store');
    expect(await getSecret(cp.db, key, name)).toBeUndefined();

    const second = await rest(cp, 'GET', location, { token: operator });
    expect(second.status).toBe(404);
    expect(second.json.error.message).toMatch(/shown once/);
    expect(JSON.stringify(second.json)).not.toContain(secretId);
  });

  it('a late read (after 15 minutes) gets 404 and deletes it; unread results are swept', async () => {
    const late = await rotatedToken();
    await cp.db.query(`UPDATE cluster_secrets SET updated_at = now() - interval '16 minutes' WHERE scope = $1 AND name = $2`, [
      key,
      rootTokenResultName(late.operationId),
    ]);
    const r = await rest(cp, 'GET', late.location);
    expect(r.status).toBe(404);
    expect(r.json.error.message).toMatch(/expired/);
    expect(JSON.stringify(r.json)).not.toContain(late.secretId);
    expect(await getSecret(cp.db, key, rootTokenResultName(late.operationId))).toBeUndefined();

    const unread = await rotatedToken();
    const fresh = await rotatedToken();
    await cp.db.query(`UPDATE cluster_secrets SET updated_at = now() - interval '15 minutes 5 seconds' WHERE scope = $1 AND name = $2`, [
      key,
      rootTokenResultName(unread.operationId),
    ]);
    expect(await sweepSealedResults(cp.db)).toBeGreaterThanOrEqual(1);
    expect(await getSecret(cp.db, key, rootTokenResultName(unread.operationId))).toBeUndefined();
    expect(await getSecret(cp.db, key, rootTokenResultName(fresh.operationId))).toBeDefined();
    expect((await rest(cp, 'GET', fresh.location)).json.secretId).toBe(fresh.secretId);
  });
});
