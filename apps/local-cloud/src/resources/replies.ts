// The answers ARM gives when a write continues in the background: PUT 201/200 with the resource
// in a non-terminal provisioningState and an Azure-AsyncOperation header; DELETE and POST 202 with
// Location and Azure-AsyncOperation. @azure/core-lro and the Go SDK's pollers (azapi) follow both.
import type { ArmContext, ArmReply, ResourceView, Services } from '../context.js';
import type { OperationRecord } from '../state.js';

export interface AsyncStart {
  kind: string;
  namespace: string;
  resourceId: string;
  location: string;
  params?: Record<string, unknown>;
  lockKey?: string;
}

export function startOperation(s: Services, ctx: ArmContext, a: AsyncStart): OperationRecord {
  return s.operations.start({
    kind: a.kind,
    subscriptionId: subscriptionOf(a.resourceId),
    namespace: a.namespace,
    location: a.location,
    resourceId: a.resourceId,
    startedBy: ctx.principal.objectId,
    ...(a.params ? { params: a.params } : {}),
    ...(a.lockKey ? { lockKey: a.lockKey } : {}),
  });
}

/** PUT accepted: the resource as it now stands, and where to watch the operation. */
export function acceptedPut(s: Services, ctx: ArmContext, view: ResourceView, created: boolean, a: AsyncStart): ArmReply {
  const op = startOperation(s, ctx, { ...a, params: { resultType: view.type, ...a.params } });
  return {
    status: created ? 201 : 200,
    body: view,
    headers: {
      'Azure-AsyncOperation': s.operations.statusUrl(op, ctx.baseUrl, ctx.apiVersion),
      ...s.operations.pollHeaders,
      ...(typeof view.etag === 'string' ? { ETag: view.etag } : {}),
    },
  };
}

/** DELETE or POST accepted: 202 with both polling headers. */
export function accepted(s: Services, ctx: ArmContext, a: AsyncStart): ArmReply {
  const op = startOperation(s, ctx, a);
  return {
    status: 202,
    headers: {
      Location: s.operations.resultUrl(op, ctx.baseUrl, ctx.apiVersion),
      'Azure-AsyncOperation': s.operations.statusUrl(op, ctx.baseUrl, ctx.apiVersion),
      ...s.operations.pollHeaders,
    },
  };
}

export function subscriptionOf(id: string): string {
  return id.split('/')[2] ?? '';
}
