// Drives the API with the TypeScript client that swagger-typescript-api generates from the
// OpenAPI document: Api.ts beside this file is written at test time by
// test/contract/generated-client.test.ts (never committed), which compiles both with tsc --strict
// before running this, so every answer below has the type the document declares.
import { Api, type Cluster, type HttpResponse, type RootToken, type SnapshotOperationResult } from './Api.js';

export interface Target {
  baseUrl: string;
  token: string;
  /** The transport (the test's fetch trusts the API's own CA). */
  fetch: typeof fetch;
  apiVersion: string;
  subscriptionId: string;
  resourceGroupName: string;
  clusterName: string;
  consulVersion: string;
}

/** The type a generated method's promise carries in `data`: the document's 200 (or 201) schema. */
type Yields<F> = F extends (...args: never[]) => Promise<HttpResponse<infer T, unknown>> ? T : never;
type Equal<A, B> = (<G>() => G extends A ? 1 : 2) extends <G>() => G extends B ? 1 : 2 ? true : false;

// Checked by the compiler: each action yields what the API's Location URL answers for it.
export const DECLARED_RESULTS: {
  createRootToken: Equal<Yields<Api<unknown>['clusters']['clustersCreateRootToken']>, RootToken>;
  createSnapshot: Equal<Yields<Api<unknown>['clusters']['clustersCreateSnapshot']>, SnapshotOperationResult>;
  upgrade: Equal<Yields<Api<unknown>['clusters']['clustersUpgrade']>, Cluster>;
} = { createRootToken: true, createSnapshot: true, upgrade: true };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Path and query of a URL the API answered with, for the client's own request(). */
function pathOf(url: string | null, what: string): string {
  if (!url) throw new Error(`the answer has no ${what} header`);
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
}

/**
 * Follows a long-running POST (final-state-via location) to its end: polls the Location URL
 * until it answers 200, and returns that body as the type the operation declares.
 */
async function finalResult<T>(api: Api<unknown>, started: HttpResponse<T, unknown>): Promise<T> {
  if (started.status !== 202) throw new Error(`expected 202 Accepted, got ${started.status}`);
  const location = pathOf(started.headers.get('location'), 'Location');
  for (const end = Date.now() + 60_000; Date.now() < end;) {
    const r = await api.request<T, unknown>({ path: location, method: 'GET', format: 'json' });
    if (r.status === 200) return r.data;
    await sleep(200);
  }
  throw new Error(`${location} did not finish within 60 s`);
}

/** Follows a PUT (final-state-via azure-async-operation): the status document until Succeeded, then the resource. */
async function created(api: Api<unknown>, t: Target, started: HttpResponse<Cluster, unknown>): Promise<Cluster> {
  if (started.status !== 201) throw new Error(`expected 201 Created, got ${started.status}`);
  const status = pathOf(started.headers.get('azure-asyncoperation'), 'Azure-AsyncOperation');
  for (const end = Date.now() + 60_000; Date.now() < end;) {
    const op = await api.request<{ status: string }, unknown>({ path: status, method: 'GET', format: 'json' });
    if (op.data.status === 'Succeeded') {
      const got = await api.clusters.clustersGet(t.subscriptionId, t.resourceGroupName, t.clusterName, { 'api-version': t.apiVersion });
      return got.data;
    }
    if (op.data.status === 'Failed' || op.data.status === 'Canceled') throw new Error(`the create ended ${op.data.status}`);
    await sleep(200);
  }
  throw new Error('the create did not finish within 60 s');
}

/** Creates a cluster, then takes a snapshot of it, both followed to their final results. */
export async function createAndSnapshot(t: Target): Promise<{ cluster: Cluster; snapshot: SnapshotOperationResult }> {
  const api = new Api<unknown>({
    baseUrl: t.baseUrl,
    customFetch: t.fetch,
    baseApiParams: { headers: { authorization: `Bearer ${t.token}` } },
  });
  const query = { 'api-version': t.apiVersion };
  const put = await api.clusters.clustersCreateOrUpdate(t.subscriptionId, t.resourceGroupName, t.clusterName, query, {
    location: 'westeurope',
    properties: { consulVersion: t.consulVersion, network: { cidr: '10.96.0.0/16' } },
  });
  const cluster = await created(api, t, put);
  const started = await api.clusters.clustersCreateSnapshot(t.subscriptionId, t.resourceGroupName, t.clusterName, query, {
    name: 'from-the-generated-client',
  });
  const snapshot = await finalResult(api, started);
  return { cluster, snapshot };
}
