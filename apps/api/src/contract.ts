// The API contract as data: every RPC of our proto services with its google.api.http mapping,
// and the type of the handler object the transports dispatch to (one handler per RPC of the
// generated service descriptors: a missing handler does not compile). The REST router, the
// gRPC server and the OpenAPI generator all read it, so the proto stays the one source of truth.
import { getOption, type DescMethod, type DescService } from '@bufbuild/protobuf';
import { http } from '../../../gen/google/api/annotations_pb.js';
import { AuditLogService } from '../../../gen/hcs/consul/v1/audit_log_pb.js';
import { ClusterService } from '../../../gen/hcs/consul/v1/cluster_service_pb.js';
import { NotificationService } from '../../../gen/hcs/consul/v1/notification_service_pb.js';
import { OperationService } from '../../../gen/hcs/consul/v1/operation_pb.js';
import type { RequestContext } from './context.js';

export const SERVICES: DescService[] = [ClusterService, OperationService, NotificationService, AuditLogService];

/**
 * A handler as the transports call it: the request as proto JSON (REST builds it from path,
 * query, headers and body; gRPC from the message), the caller's context; the response as proto
 * JSON. Handlers declare the request fields they read, hence `never` here.
 */
export type RpcHandler = (req: never, ctx: RequestContext) => Promise<object>;

/** One handler per method of a generated service descriptor, keyed by the method's local name. */
export type ServiceHandlers<S extends { method: object }> = { [K in keyof S['method']]: RpcHandler };

/** Every RPC the API serves (SERVICES): createHandlers must provide each of them. */
export type ApiHandlers = ServiceHandlers<typeof ClusterService> &
  ServiceHandlers<typeof OperationService> &
  ServiceHandlers<typeof NotificationService> &
  ServiceHandlers<typeof AuditLogService>;

type JsonHandler = (req: Record<string, unknown>, ctx: RequestContext) => Promise<Record<string, unknown>>;

/**
 * The handler of one RPC, for the transports. The handler object is typed (ApiHandlers), so the
 * lookup cannot miss for a method of SERVICES; anything else is a programming error, found when
 * the server starts.
 */
export function handlerFor(handlers: ApiHandlers, method: DescMethod): JsonHandler {
  const fn: unknown = (handlers as unknown as Record<string, unknown>)[method.localName];
  if (typeof fn !== 'function') throw new Error(`no handler for ${method.parent.typeName}.${method.name}`);
  return fn as JsonHandler;
}

export type HttpVerb = 'get' | 'put' | 'post' | 'delete' | 'patch';

export interface RpcRoute {
  service: DescService;
  method: DescMethod;
  /** Handler name: the method's lowerCamel local name, e.g. createOrReplaceCluster. */
  handler: string;
  verb: HttpVerb;
  /** Path template as in the proto, e.g. /subscriptions/{subscription_id}/... */
  path: string;
  /** Path variables: proto field name and JSON name. */
  pathParams: Array<{ field: string; json: string }>;
  /** '*' (whole body is the request), a field's JSON name, or undefined (no body). */
  body: string | undefined;
  /** JSON name of the response field sent as the REST body; undefined: the whole response. */
  responseBody: string | undefined;
}

export function rpcRoutes(): RpcRoute[] {
  const routes: RpcRoute[] = [];
  for (const service of SERVICES) {
    for (const method of service.methods) {
      const rule = getOption(method, http);
      const { case: verb, value: path } = rule.pattern;
      if (verb !== 'get' && verb !== 'put' && verb !== 'post' && verb !== 'delete' && verb !== 'patch') {
        throw new Error(`${service.typeName}.${method.name} has no supported google.api.http pattern`);
      }
      const jsonOf = (fields: DescMethod['input'], name: string) => {
        const f = fields.fields.find((x) => x.name === name);
        if (!f) throw new Error(`${service.typeName}.${method.name}: http rule names unknown field ${name}`);
        return f.jsonName;
      };
      const pathParams = [...path.matchAll(/\{([a-z_]+)\}/g)].map((m) => ({ field: m[1]!, json: jsonOf(method.input, m[1]!) }));
      routes.push({
        service,
        method,
        handler: method.localName,
        verb,
        path,
        pathParams,
        body: rule.body === '' ? undefined : rule.body === '*' ? '*' : jsonOf(method.input, rule.body),
        responseBody: rule.responseBody === '' ? undefined : jsonOf(method.output, rule.responseBody),
      });
    }
  }
  return routes;
}
