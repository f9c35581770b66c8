// ARM KNOWLEDGE TABLE, long-running operations: which RPCs are long-running, how each finishes
// (final-state-via), what each finally yields, and how ARM's Location URL (GET
// .../operationResults/{id}) answers. Read by the OpenAPI generator (generate.ts) and the REST
// server (rest/arm-responses.ts, rest/server.ts); the rest of what we claim to ARM is in
// arm-table.ts.
import type { RpcRoute } from '../contract.js';
import { PACKAGE } from './arm-table.js';

export const OPERATION_MESSAGE = `${PACKAGE}.Operation`;

/**
 * Long-running: the response reports a started Operation beside (not as) the REST body
 * (CancelOperation answers with the operation itself: not long-running).
 */
export function isLongRunning(route: RpcRoute): boolean {
  return route.method.output.fields.some(
    (f) => f.fieldKind === 'message' && f.message.typeName === OPERATION_MESSAGE && f.jsonName !== route.responseBody,
  );
}

/** Per verb: how an LRO finishes. ARM: PUT via the status document, everything else via Location. */
export const FINAL_STATE_VIA: Record<string, string> = {
  put: 'azure-async-operation',
  patch: 'location',
  delete: 'location',
  post: 'location',
};

/** A field of GetOperationResultResponse's `result` oneof (JSON name): what an operation produced. */
export type OperationResultField = 'cluster' | 'snapshot' | 'rootToken' | 'peeringToken';

/**
 * What each long-running RPC finally yields: the result its operation's Location URL
 * (OPERATION_RESULT) answers with 200 once it succeeded, as service/operation-result.ts produces
 * it and OPERATION_RESULT_BODIES sends it; null when it answers 204 with nothing. The document
 * declares it as the 200 schema of a long-running POST and as `final-state-schema`, so a client
 * generated from the document decodes what the API sends (test/contract/lro-results.test.ts
 * runs every one on the stack and validates the answer against the declared schema). Every
 * long-running RPC must be listed (the generator throws otherwise).
 */
export const LRO_FINAL_RESULTS: Record<string, OperationResultField | null> = {
  CreateOrReplaceCluster: 'cluster',
  UpdateCluster: 'cluster',
  DeleteCluster: null,
  UpgradeCluster: 'cluster',
  RestoreSnapshot: 'cluster',
  // Removing a snapshot changes no resource of its own: the answer is the cluster afterwards.
  DeleteSnapshot: 'cluster',
  CreateSnapshot: 'snapshot',
  CreateRootToken: 'rootToken',
  // Maintenance requests change no resource of their own: the answer is the cluster afterwards.
  RotateCertificates: 'cluster',
  RestartServer: 'cluster',
  RepairServer: 'cluster',
  GeneratePeeringToken: 'peeringToken',
  // A peering is no resource of ours: the answer is the cluster afterwards.
  EstablishPeering: 'cluster',
};

/** The final result of a long-running RPC (LRO_FINAL_RESULTS); throws for one not listed. */
export function lroFinalResult(rpc: string): OperationResultField | null {
  const result = LRO_FINAL_RESULTS[rpc];
  if (result === undefined) throw new Error(`long-running RPC ${rpc} has no entry in arm-lro.ts LRO_FINAL_RESULTS`);
  return result;
}

/**
 * ARM's Location URL of a long-running operation (GET .../operationResults/{id}) is the REST face
 * of this RPC (rest/arm-responses.ts): 202 with Location and Retry-After while the operation
 * runs; when it succeeded, 200 with what it produced (LRO_FINAL_RESULTS) or 204 when it
 * produced nothing (a delete); when it failed 400, canceled 409, with the
 * operation's error. Clients only follow the Location header, so the document does not list it
 * (UNDOCUMENTED_RPCS): the LRO options say how an operation finishes.
 */
export const OPERATION_RESULT = {
  rpc: 'GetOperationResult',
  running: 202,
  succeeded: 200,
  noResult: 204,
  failed: 400,
  canceled: 409,
} as const;

/**
 * How each result (the oneof of GetOperationResultResponse, by JSON name) is sent as the Location
 * URL's body: `wrap` names the field the body holds it under (else the body is the result itself);
 * `etag` sends the resource's ETag header; `noStore` forbids caching (a credential).
 */
export const OPERATION_RESULT_BODIES: Record<OperationResultField, { wrap?: string; etag?: boolean; noStore?: boolean }> = {
  cluster: { etag: true },
  snapshot: { wrap: 'snapshot' },
  rootToken: { noStore: true },
  peeringToken: { noStore: true },
};

/** RPCs served over REST that the document leaves out (see OPERATION_RESULT). */
export const UNDOCUMENTED_RPCS = new Set<string>([OPERATION_RESULT.rpc]);
