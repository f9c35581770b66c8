// The shapes of the API's answers, as the API itself declares them: derived from its handlers and
// views (type-only imports, so nothing of the API is loaded at run time). REST bodies are these
// objects serialised as JSON.
import type { ErrorDetail } from '../../../domain/errors.js';
import type { actionHandlers } from '../../api/src/service/actions.js';
import type { federationHandlers } from '../../api/src/service/federation.js';
import type { ClusterView, OperationView } from '../../api/src/service/views.js';

type Actions = ReturnType<typeof actionHandlers>;
type Federation = ReturnType<typeof federationHandlers>;
type Answer<F extends (...args: never[]) => unknown> = Awaited<ReturnType<F>>;

export type { ClusterView, OperationView, ErrorDetail };
export type SnapshotView = Answer<Actions['getSnapshot']>['snapshot'];
export type ClientConfigView = Answer<Actions['listClientConfig']>;
export type RootTokenView = Answer<Actions['rootTokenResult']>;
export type FederationTokenView = Answer<Federation['createFederationToken']>;
export type FederationView = Answer<Federation['getFederation']>;

/** An ARM error body (`{ error: { code, message, target, details } }`). */
export interface ArmErrorBody {
  error: { code: string; message: string; target?: string; details?: ErrorDetail[] };
}

/** A page of a list (`value` with `nextLink` unless it is the last). */
export interface Page<T> {
  value: T[];
  nextLink?: string;
}
