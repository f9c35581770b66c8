// The gRPC transport: the same handlers as REST, with the standard health service and server
// reflection. Messages are (de)serialised with protobuf-es from the generated descriptors.
import { fromBinary, fromJson, toBinary, toJson, type DescFile, type JsonValue } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import {
  Server,
  status as GrpcStatus,
  type MethodDefinition,
  type sendUnaryData,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Message } from '@bufbuild/protobuf';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { file_google_rpc_error_details } from '../../../../gen/google/rpc/error_details_pb.js';
import { file_google_rpc_status } from '../../../../gen/google/rpc/status_pb.js';
import { file_health_v1_health } from '../../../../gen/health/v1/health_pb.js';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Authenticator } from '../auth.js';
import { API_VERSION } from '../api-version.js';
import { handlerFor, rpcRoutes, SERVICES, type ApiHandlers } from '../contract.js';
import type { RequestContext } from '../context.js';
import { badRequest, toArmError } from '../errors.js';
import { checkFieldLimits, checkHeaderLength } from '../field-limits.js';
import { grpcServerCredentials, peerCertificate, type GrpcTls } from './credentials.js';
import { grpcErrorResponse } from './error-metadata.js';
import { retryAfterOf } from '../rate-limit.js';
import { grpcRequestDuration } from '../../../../lib/metrics.js';
import { auditUnavailable, isAudited, requestAuditEntry, type AuditRecorder } from '../audit.js';
import type { Caller } from '../context.js';

export interface GrpcServerOptions {
  handlers: ApiHandlers;
  authenticate: Authenticator;
  logger: Logger;
  host: string;
  port: number;
  /** TLS (required unless host is loopback); client certificates are asked for when ARM is trusted by thumbprint. */
  tls?: GrpcTls;
  requestClientCertificates?: boolean;
  /** Records every mutating call before its answer leaves (audit.ts); nothing is recorded when absent. */
  audit?: AuditRecorder;
}

const UNDECODABLE = Symbol('undecodable request');

export interface RunningGrpcServer {
  address: string;
  /** Sets the health service's answer for every service (readiness: SERVING or NOT_SERVING). */
  setServing(serving: boolean): void;
  close(): Promise<void>;
}

export async function startGrpcServer(o: GrpcServerOptions): Promise<RunningGrpcServer> {
  const credentials = grpcServerCredentials(o.host, o.tls, o.requestClientCertificates ?? false);
  const server = new Server();
  const routes = rpcRoutes();

  for (const service of SERVICES) {
    const definition: Record<string, MethodDefinition<Message, Message>> = {};
    const implementation: UntypedServiceImplementation = {};
    for (const method of service.methods) {
      const route = routes.find((r) => r.method === method)!;
      const fn = handlerFor(o.handlers, method);
      definition[method.name] = {
        path: `/${service.typeName}/${method.name}`,
        requestStream: false,
        responseStream: false,
        requestSerialize: (m: Message) => Buffer.from(toBinary(method.input, m as never)),
        // Bytes that are not a valid message become a marker the handler answers with
        // INVALID_ARGUMENT (grpc-js itself would answer INTERNAL).
        requestDeserialize: (b: Buffer) => {
          try {
            return fromBinary(method.input, b);
          } catch {
            return UNDECODABLE as unknown as Message;
          }
        },
        responseSerialize: (m: Message) => Buffer.from(toBinary(method.output, m as never)),
        responseDeserialize: (b: Buffer) => fromBinary(method.output, b),
        originalName: method.localName,
      };
      implementation[method.name] = (call: ServerUnaryCall<Message, Message>, callback: sendUnaryData<Message>) => {
        const requestId = randomUUID();
        // Latency by the method's full name and the status code's name (no request data).
        const observe = grpcRequestDuration.startTimer({ method: `/${service.typeName}/${method.name}` });
        const sentCorrelationId = call.metadata.get('x-ms-correlation-request-id')[0];
        const correlationId = typeof sentCorrelationId === 'string' ? sentCorrelationId : randomUUID();
        let caller: Caller | undefined;
        let input: Record<string, unknown> = {};
        // The call's audit row (mutating RPCs), before the answer leaves: a failure to write it answers UNAVAILABLE.
        const audit = o.audit && isAudited(route) ? o.audit : undefined;
        const recorded = async (status: number, errorCode: string | null): Promise<boolean> => {
          if (!audit) return true;
          try {
            await audit(
              requestAuditEntry({
                route,
                values: (field) => {
                  const json = route.pathParams.find((p) => p.field === field)?.json;
                  const v = json ? input[json] : undefined;
                  return typeof v === 'string' ? v : undefined;
                },
                caller,
                clientAddress: peerAddress(call.getPeer()),
                correlationId,
                requestId,
                status,
                errorCode,
              }),
            );
            return true;
          } catch (err) {
            o.logger.error({ err, requestId, correlationId, rpc: method.name }, 'the audit row could not be written');
            return false;
          }
        };
        const fail = (err: unknown) => {
          const arm = toArmError(err, requestId);
          observe({ code: GrpcStatus[arm.grpcCode] ?? String(arm.grpcCode) });
          if (arm.httpStatus >= 500) o.logger.error({ err, requestId, correlationId, rpc: method.name }, 'gRPC call failed');
          callback(grpcErrorResponse(arm.grpcCode, arm, requestId, retryAfterOf(err)));
        };
        void (async () => {
          // Lengths first: an oversized value never reaches authentication, a handler or an error message.
          checkHeaderLength('x-ms-correlation-request-id', correlationId);
          const decoded = (call.request as unknown) === UNDECODABLE ? undefined : call.request;
          input = decoded ? (toJson(method.input, decoded as never) as Record<string, unknown>) : {};
          if (decoded) checkFieldLimits(route, input);
          caller = await o.authenticate({
            authorization: String(call.metadata.get('authorization')[0] ?? '') || undefined,
            peerCertificate: peerCertificate(call),
          });
          if (!decoded) throw badRequest('InvalidRequestContent', `The request is not a valid ${method.input.typeName} message.`);
          // proto3 omits empty strings; the handlers validate names, so give them the empty name.
          for (const p of route.pathParams) input[p.json] ??= '';
          const ctx: RequestContext = {
            requestId,
            correlationId,
            caller,
            // The body as a REST client would have sent it, for the same precise validation.
            rawBody: route.body === '*' ? input : route.body ? input[route.body] : undefined,
            baseUrl: '',
            apiVersion: API_VERSION,
          };
          const res = await fn(input, ctx);
          return fromJson(method.output, res as JsonValue, { ignoreUnknownFields: true });
        })().then(
          async (res) => {
            if (!(await recorded(200, null))) return fail(auditUnavailable(requestId));
            observe({ code: GrpcStatus[GrpcStatus.OK] });
            callback(null, res);
          },
          async (err: unknown) => {
            const arm = toArmError(err, requestId);
            fail((await recorded(arm.httpStatus, arm.body.error.code)) ? err : auditUnavailable(requestId));
          },
        );
      };
    }
    server.addService(definition, implementation);
  }

  const healthNames = ['', ...SERVICES.map((s) => s.typeName)];
  const health = new HealthImplementation(Object.fromEntries(healthNames.map((n) => [n, 'SERVING' as const])));
  health.addToServer(server);
  // Reflection describes everything served: our services from the generated descriptors (with
  // their real file names and imports, which proto-loader's synthetic files lack) and health.
  const packageDefinition = reflectionFiles() as unknown as PackageDefinition;
  new ReflectionService(packageDefinition).addToServer(server);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${o.host}:${o.port}`, credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `${o.host}:${port}`,
    setServing(serving) {
      for (const n of healthNames) health.setStatus(n, serving ? 'SERVING' : 'NOT_SERVING');
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
      }),
  };
}

/** The client's address from grpc-js's peer string (`ipv4:1.2.3.4:5678`, `ipv6:[::1]:5678`), without the port. */
function peerAddress(peer: string): string {
  const m = /^(?:ipv4:|ipv6:)?(?:\[([^\]]+)\]|([^:]+(?::[^:]+)*?)):\d+$/.exec(peer);
  return m ? (m[1] ?? m[2] ?? peer) : peer;
}

/** Every file our services need (transitively), as serialized FileDescriptorProtos. */
function reflectionFiles(): Record<string, { fileDescriptorProtos: Buffer[] }> {
  const seen = new Map<string, DescFile>();
  const visit = (f: DescFile) => {
    if (seen.has(f.name)) return;
    seen.set(f.name, f);
    f.dependencies.forEach(visit);
  };
  for (const s of SERVICES) visit(s.file);
  visit(file_health_v1_health);
  visit(file_google_rpc_error_details);
  visit(file_google_rpc_status);
  const fileDescriptorProtos = [...seen.values()].map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)));
  return { 'hcs.consul.v1': { fileDescriptorProtos } };
}
