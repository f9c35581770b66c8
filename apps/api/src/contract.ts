// The API contract as data: every RPC of our proto services with its google.api.http mapping.
// The REST router, the gRPC server and the OpenAPI generator all read it, so the proto stays
// the one source of truth.
import { getOption, type DescMethod, type DescService } from '@bufbuild/protobuf';
import { http } from '../../../gen/google/api/annotations_pb.js';
import { ClusterService } from '../../../gen/hcs/consul/v1/cluster_service_pb.js';
import { NotificationService } from '../../../gen/hcs/consul/v1/notification_service_pb.js';
import { OperationService } from '../../../gen/hcs/consul/v1/operation_pb.js';

export const SERVICES: DescService[] = [ClusterService, OperationService, NotificationService];

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
