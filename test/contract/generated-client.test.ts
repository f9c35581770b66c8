// Issue 16, item 5: a client generated from the OpenAPI document works. swagger-typescript-api
// (a maintained generator that reads Swagger 2.0 and runs offline from npm) generates a
// TypeScript fetch client from the document into a temporary folder; tsc --strict compiles it
// with generated-client/drive.ts, whose compile-time checks require each action's declared result
// (createRootToken yields a RootToken, createSnapshot the snapshot, not a Cluster); then the driver
// creates a cluster and takes a snapshot through it against the API on the real stack (stand-in
// workflows), following each long-running operation to its final result.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateApi } from 'swagger-typescript-api';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { API_VERSION } from '../../apps/api/src/api-version.js';
import { OPENAPI_PATH } from '../../apps/api/src/openapi/document-file.js';
import { generateOpenApi } from '../../apps/api/src/openapi/generate.js';
import { httpCall } from '../../lib/http.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { rest, V } from '../security/support.js';
import { DocumentSchemas, type OpenApiDocument } from './openapi-schemas.js';

const stack = inject('stack');
const repoRoot = join(import.meta.dirname, '..', '..');
// Under the gitignored test-data folder: generated code is never committed.
const dir = join(repoRoot, '.test-data', `generated-client-${randomUUID()}`);
const schemas = new DocumentSchemas(generateOpenApi() as unknown as OpenApiDocument);
let cp: ControlPlane;

beforeAll(async () => {
  cp = await startControlPlane(stack);
  mkdirSync(dir, { recursive: true });
});
afterAll(async () => {
  await cp?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What generated-client/drive.ts exports (its types are the generated client's, checked by tsc in the test). */
interface Driver {
  createAndSnapshot(t: {
    baseUrl: string;
    token: string;
    fetch: typeof fetch;
    apiVersion: string;
    subscriptionId: string;
    resourceGroupName: string;
    clusterName: string;
    consulVersion: string;
  }): Promise<{ cluster: any; snapshot: any }>;
}

/** fetch over lib/http.ts, trusting the API's CA (the generated client takes any fetch). */
function fetchWithCa(ca: string): typeof fetch {
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, name) => (headers[name] = value));
    const res = await httpCall(url, {
      method: init?.method ?? 'GET',
      headers,
      ca,
      ...(typeof init?.body === 'string' ? { body: init.body } : {}),
    });
    const out = new Headers();
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out.set(k, Array.isArray(v) ? v.join(', ') : v);
    return new Response(res.status === 204 || res.body === '' ? null : res.body, { status: res.status, headers: out });
  };
}

describe('a TypeScript client generated from the OpenAPI document', () => {
  it('compiles with the declared result types and creates a cluster and a snapshot on the stack', async () => {
    await generateApi({
      input: OPENAPI_PATH,
      output: dir,
      fileName: 'Api.ts',
      httpClientType: 'fetch',
      moduleNameFirstTag: true,
      silent: true,
    });
    const client = readFileSync(join(dir, 'Api.ts'), 'utf8');
    expect(client).toMatch(/clustersCreateRootToken: \(/);
    expect(client).toMatch(/this\.request<RootToken, ErrorResponse>/);
    copyFileSync(join(import.meta.dirname, 'generated-client', 'drive.ts'), join(dir, 'drive.ts'));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023', 'DOM', 'DOM.Iterable'],
          types: [],
          strict: true,
          noEmit: true,
          skipLibCheck: true,
        },
        files: ['Api.ts', 'drive.ts'],
      }),
    );
    const tsc = spawnSync(join(repoRoot, 'node_modules', '.bin', 'tsc'), ['-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
    expect(`${tsc.stdout}${tsc.stderr}`).toBe('');
    expect(tsc.status).toBe(0);

    const sub = randomUUID();
    await cp.registerSubscription(sub);
    // Typed by tsc above; the project's own compile does not see the generated client.
    const drive = (await import(pathToFileURL(join(dir, 'drive.ts')).href)) as Driver;
    const consulVersion = stack.tools.consulVersions.at(-1)!;
    const { cluster, snapshot } = await drive.createAndSnapshot({
      baseUrl: cp.api.restUrl,
      token: cp.tokens.operator,
      fetch: fetchWithCa(cp.caCertPem),
      apiVersion: API_VERSION,
      subscriptionId: sub,
      resourceGroupName: 'rg-client',
      clusterName: 'generated-client',
      consulVersion,
    });
    expect(cluster.properties.provisioningState).toBe('Succeeded');
    expect(cluster.properties.consulVersion).toBe(consulVersion);
    expect(schemas.errors({ $ref: '#/definitions/Cluster' }, cluster, 'response')).toEqual([]);
    expect(snapshot.snapshot.name).toBe('from-the-generated-client');
    expect(schemas.errors({ $ref: '#/definitions/SnapshotOperationResult' }, snapshot, 'response')).toEqual([]);
    // The API knows the same snapshot.
    const listed = await rest(cp, 'POST', `${cluster.id}/listSnapshots?${V}`);
    const ids = (listed.json.value as Array<{ id: string }>).map((s) => s.id);
    expect(ids).toContain(snapshot.snapshot.id);
  });
});
