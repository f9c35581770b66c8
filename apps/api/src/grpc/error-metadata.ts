// How a refused gRPC call is answered: the status code, `x-ms-error-code`, the ARM error body
// (`error-body-json`) and gRPC's rich error model (`grpc-status-details-bin`), all in trailing
// metadata. Trailers share one HTTP/2 header block with a size limit; a trailer past it is never
// delivered, so the client waits for its deadline and the connection stalls. Whatever a handler
// puts into an error, what is sent here is bounded (a few kilobytes at most).
import { create, toBinary } from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import { Metadata, type ServerErrorResponse } from '@grpc/grpc-js';
import { BadRequestSchema, ErrorInfoSchema, RequestInfoSchema, RetryInfoSchema } from '../../../../gen/google/rpc/error_details_pb.js';
import { StatusSchema } from '../../../../gen/google/rpc/status_pb.js';
import type { ArmError } from '../errors.js';

const MAX_MESSAGE = 512;
const MAX_DETAIL_MESSAGE = 256;
const MAX_TARGET = 128;
const MAX_CODE = 64;
const MAX_DETAILS = 10;

type ErrorBody = ArmError['body']['error'];

/** At most `max` characters, lone surrogates replaced (grpc-js percent-encodes the status message with encodeURI, which throws on them). */
function cut(text: string, max: number): string {
  const short = text.length <= max ? text : `${text.slice(0, max - 3)}...`;
  return short.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** The ARM error with every text cut to a fixed length and at most MAX_DETAILS details. */
export function boundedError(error: ErrorBody): ErrorBody {
  const out: ErrorBody = { code: cut(error.code, MAX_CODE), message: cut(error.message, MAX_MESSAGE) };
  if (error.target !== undefined) out.target = cut(error.target, MAX_TARGET);
  if (error.details?.length) {
    out.details = error.details.slice(0, MAX_DETAILS).map((d) => ({
      code: cut(d.code, MAX_CODE),
      message: cut(d.message, MAX_DETAIL_MESSAGE),
      ...(d.target !== undefined ? { target: cut(d.target, MAX_TARGET) } : {}),
    }));
  }
  return out;
}

/**
 * The error a handler raised as grpc-js sends it: status, message and bounded trailers;
 * `retryAfter` (seconds, rate limits) as a `retry-after` trailer and google.rpc.RetryInfo.
 */
export function grpcErrorResponse(code: number, arm: ArmError, requestId: string, retryAfter?: number): Partial<ServerErrorResponse> {
  const error = boundedError(arm.body.error);
  const md = new Metadata();
  md.set('x-ms-request-id', requestId);
  md.set('x-ms-error-code', error.code);
  md.set('error-body-json', asciiJson({ error }));
  if (retryAfter) md.set('retry-after', String(retryAfter));
  md.set('grpc-status-details-bin', richStatus(code, error, requestId, retryAfter));
  return { code, details: `${error.code}: ${error.message}`, metadata: md };
}

/** JSON in printable ASCII (other characters as \\u escapes): gRPC text metadata allows nothing else. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * gRPC's rich error model (google.rpc.Status in grpc-status-details-bin): the ARM code as
 * ErrorInfo.reason, every field problem as a BadRequest violation, the request id and, for
 * rate limits, RetryInfo.
 */
function richStatus(code: number, error: ErrorBody, requestId: string, retryAfter: number | undefined): Buffer {
  const violations = (error.details?.length ? error.details : error.target ? [error] : []).map((d) => ({
    field: d.target ?? '',
    description: d.message,
    reason: d.code,
  }));
  const details = [
    anyPack(
      ErrorInfoSchema,
      create(ErrorInfoSchema, { reason: error.code, domain: 'hcs.consul', metadata: error.target ? { target: error.target } : {} }),
    ),
    anyPack(RequestInfoSchema, create(RequestInfoSchema, { requestId })),
    ...(retryAfter ? [anyPack(RetryInfoSchema, create(RetryInfoSchema, { retryDelay: { seconds: BigInt(retryAfter) } }))] : []),
    ...(violations.length ? [anyPack(BadRequestSchema, create(BadRequestSchema, { fieldViolations: violations }))] : []),
  ];
  return Buffer.from(toBinary(StatusSchema, create(StatusSchema, { code, message: `${error.code}: ${error.message}`, details })));
}
