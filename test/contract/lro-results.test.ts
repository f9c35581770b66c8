// Issue 16, item 5: each long-running action yields what the OpenAPI document declares. For every
// operation the document marks long-running, the test runs it on the stack (the API harness,
// stand-in workflows), follows it to its end and validates the final answer of its Location URL
// (the operationResults URL; for the PUT, derived from Azure-AsyncOperation as ARM clients do)
// against the operation's `final-state-schema`, which is also its 200 schema; an operation that
// declares none (a delete) must answer 204 without a body. The declarations come from one table
// (arm-lro.ts LRO_FINAL_RESULTS), so the document cannot drift from what the API returns.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateOpenApi } from '../../apps/api/src/openapi/generate.js';
import { peeringTokenResultName, rootTokenResultName, sealContext } from '../../contract/secret-names.js';
import { parsePayloadKeys } from '../../lib/payload-codec.js';
import { deriveSealingKeys, SecretBox } from '../../lib/secret-box.js';
import { putSecret } from '../../store/secrets.js';
import { completeSnapshot } from '../../store/snapshots.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { clusterBody, clusterPath, rest, V, type Reply } from '../security/support.js';
import { DocumentSchemas, type OpenApiDocument, type Operation } from './openapi-schemas.js';

const stack = inject('stack');
const doc = generateOpenApi() as unknown as OpenApiDocument;
const schemas = new DocumentSchemas(doc);
const longRunning = Object.values(doc.paths)
  .flatMap((verbs) => Object.values(verbs))
  .filter((op) => (op as { 'x-ms-long-running-operation'?: boolean })['x-ms-long-running-operation'] === true);

let cp: ControlPlane;
let sealer: SecretBox;
const sub = randomUUID();
const path = clusterPath(sub, 'rg', 'final-results');
const key = path.toLowerCase();
// Oldest first: the cluster is created on the oldest and upgraded to the newest.
const versions = [...stack.tools.consulVersions].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
/** The snapshot the createSnapshot step took (restored and deleted later). */
let snapshotId = '';

beforeAll(async () => {
  cp = await startControlPlane(stack);
  sealer = new SecretBox(deriveSealingKeys(parsePayloadKeys(cp.payloadKeys)));
  await cp.registerSubscription(sub);
});
afterAll(async () => {
  await cp?.close();
});

/** A token in Consul's format (base64 of JSON naming the peer's servers); the stand-in never dials it. */
const PEERING_TOKEN = Buffer.from(JSON.stringify({ ServerAddresses: ['10.0.0.4:8503'], ServerName: 'server.billing.consul' })).toString(
  'base64',
);

/**
 * Results the worker seals for one reading (service/sealed-result.ts): the stand-in makes none,
 * so the test stores one exactly as the worker's activity does once the operation succeeded.
 */
const SEALED_RESULTS: Record<string, { name: (operationId: string) => string; value: () => object }> = {
  Clusters_CreateRootToken: { name: rootTokenResultName, value: () => ({ accessorId: randomUUID(), secretId: randomUUID() }) },
  Clusters_GeneratePeeringToken: { name: peeringTokenResultName, value: () => ({ peerName: 'billing', peeringToken: PEERING_TOKEN }) },
};

/** How each long-running operation is started here, in this order (every one the document has must be listed). */
const STARTS: Array<[operationId: string, start: () => Promise<Reply>]> = [
  ['Clusters_CreateOrUpdate', () => rest(cp, 'PUT', `${path}?${V}`, { body: clusterBody(versions[0]!, '10.72.0.0/16') })],
  ['Clusters_Update', () => rest(cp, 'PATCH', `${path}?${V}`, { body: { properties: { serverCount: 5 } } })],
  ['Clusters_CreateSnapshot', () => rest(cp, 'POST', `${path}/createSnapshot?${V}`, { body: { name: 'final-results' } })],
  [
    'Clusters_RestoreSnapshot',
    async () => {
      // The stand-in takes no real snapshot: record it COMPLETED as the snapshot workflow would.
      await completeSnapshot(cp.db, key, snapshotId, {
        sizeBytes: 1024,
        consulVersion: versions[0]!,
        blobPath: `snapshots/${snapshotId}`,
        wrappedKey: 'vault:v1:stand-in',
        sha256: null,
      });
      return rest(cp, 'POST', `${path}/restoreSnapshot?${V}`, { body: { snapshotId, takeSnapshotFirst: false } });
    },
  ],
  ['Clusters_DeleteSnapshot', () => rest(cp, 'POST', `${path}/deleteSnapshot?${V}`, { body: { snapshotId } })],
  ['Clusters_Upgrade', () => rest(cp, 'POST', `${path}/upgrade?${V}`, { body: { consulVersion: versions.at(-1), force: true } })],
  ['Clusters_RotateCertificates', () => rest(cp, 'POST', `${path}/rotateCertificates?${V}`)],
  ['Clusters_RestartServer', () => rest(cp, 'POST', `${path}/restartServer?${V}`, { body: { serverIndex: 0, force: true } })],
  ['Clusters_RepairServer', () => rest(cp, 'POST', `${path}/repairServer?${V}`, { body: { serverIndex: 0, force: true } })],
  ['Clusters_CreateRootToken', () => rest(cp, 'POST', `${path}/createRootToken?${V}`)],
  ['Clusters_GeneratePeeringToken', () => rest(cp, 'POST', `${path}/generatePeeringToken?${V}`, { body: { peerName: 'billing' } })],
  [
    'Clusters_EstablishPeering',
    () =>
      rest(cp, 'POST', `${path}/establishPeering?${V}`, {
        body: { peerName: 'billing', peeringToken: PEERING_TOKEN },
      }),
  ],
  ['Clusters_Delete', () => rest(cp, 'DELETE', `${path}?${V}`)],
];

const pathOf = (url: string) => {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
};

/** Waits until the operation's status document is terminal; returns it. */
async function settle(statusUrl: string): Promise<any> {
  for (const end = Date.now() + 60_000; Date.now() < end;) {
    const r = await rest(cp, 'GET', pathOf(statusUrl));
    expect(r.status).toBe(200);
    if (['Succeeded', 'Failed', 'Canceled'].includes(r.json.status)) return r.json;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`${statusUrl} did not end within 60 s`);
}

describe('the final result of every long-running operation', () => {
  it('the test starts every long-running operation of the document', () => {
    expect(STARTS.map(([id]) => id).sort()).toEqual(longRunning.map((op) => op.operationId).sort());
  });

  it.each(STARTS.map(([id, start]) => [id, start] as const))('%s ends with what the document declares', async (operationId, start) => {
    const op: Operation = longRunning.find((o) => o.operationId === operationId)!;
    const schema = op['x-ms-long-running-operation-options']?.['final-state-schema'];
    if (schema !== undefined && operationId !== 'Clusters_CreateOrUpdate') {
      // The 200 answer of the action is the same declaration (what generators type the call with).
      expect(op.responses['200']?.schema).toEqual({ $ref: schema });
    }
    const started = await start();
    expect(started.status, JSON.stringify(started.json)).toBe(operationId === 'Clusters_CreateOrUpdate' ? 201 : 202);
    const statusUrl = String(started.headers['azure-asyncoperation']);
    const location = started.headers.location
      ? String(started.headers.location)
      : statusUrl.replace('/operationStatuses/', '/operationResults/');
    const opId = statusUrl.split('/operationStatuses/')[1]!.split('?')[0]!;
    const ended = await settle(statusUrl);
    expect(ended.status, JSON.stringify(ended.error)).toBe('Succeeded');
    const sealed = SEALED_RESULTS[operationId];
    if (sealed) {
      const name = sealed.name(opId);
      await putSecret(cp.db, key, name, sealer.seal(JSON.stringify(sealed.value()), sealContext(key, name)));
    }
    const final = await rest(cp, 'GET', pathOf(location));
    if (schema === undefined) {
      expect(final.status).toBe(204);
      expect(final.json).toBeUndefined();
      return;
    }
    expect(final.status, JSON.stringify(final.json)).toBe(200);
    expect(schemas.errors({ $ref: schema }, final.json, 'response')).toEqual([]);
    if (operationId === 'Clusters_CreateSnapshot') snapshotId = final.json.snapshot.id;
    if (operationId === 'Clusters_CreateOrUpdate') {
      // ARM clients finish a PUT with a GET of the resource: the same declaration.
      const got = await rest(cp, 'GET', `${path}?${V}`);
      expect(schemas.errors({ $ref: schema }, got.json, 'response')).toEqual([]);
    }
  });

  it('a result of another shape fails the check (the check can fail)', () => {
    const createRootToken = longRunning.find((o) => o.operationId === 'Clusters_CreateRootToken')!;
    const schema = createRootToken['x-ms-long-running-operation-options']!['final-state-schema']!;
    expect(schemas.errors({ $ref: schema }, { location: 'westeurope', properties: {} }, 'response')).not.toEqual([]);
  });
});
