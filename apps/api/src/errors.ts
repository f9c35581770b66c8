// The API's error vocabulary and its ONE mapping to ARM (HTTP status + error body) and to gRPC
// status codes. Handlers throw these (or a domain ValidationError); the transports translate.
import { status as GrpcStatus } from '@grpc/grpc-js';
import { type ErrorDetail, isValidationError } from '../../../domain/errors.js';

export class ApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly grpcCode: GrpcStatus,
    readonly code: string,
    message: string,
    readonly target?: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const notFound = (what: string) => new ApiError(404, GrpcStatus.NOT_FOUND, 'ResourceNotFound', `${what} was not found.`);
export const conflict = (code: string, message: string) => new ApiError(409, GrpcStatus.FAILED_PRECONDITION, code, message);
export const preconditionFailed = (message: string) => new ApiError(412, GrpcStatus.FAILED_PRECONDITION, 'PreconditionFailed', message);
export const badRequest = (code: string, message: string, target?: string) =>
  new ApiError(400, GrpcStatus.INVALID_ARGUMENT, code, message, target);
export const unauthenticated = (message: string) => new ApiError(401, GrpcStatus.UNAUTHENTICATED, 'AuthenticationFailed', message);
export const forbidden = (code: string, message: string) => new ApiError(403, GrpcStatus.PERMISSION_DENIED, code, message);
export const unavailable = (message: string) => new ApiError(503, GrpcStatus.UNAVAILABLE, 'ServiceUnavailable', message);

export interface ArmError {
  httpStatus: number;
  grpcCode: GrpcStatus;
  body: { error: { code: string; message: string; target?: string; details?: ErrorDetail[] } };
}

/** Turns anything thrown into an ARM error; unknown errors become a 500 that leaks nothing. */
export function toArmError(err: unknown, requestId: string): ArmError {
  if (err instanceof ApiError) {
    const error: ArmError['body']['error'] = { code: err.code, message: err.message };
    if (err.target) error.target = err.target;
    if (err.details.length) error.details = err.details;
    return { httpStatus: err.httpStatus, grpcCode: err.grpcCode, body: { error } };
  }
  if (isValidationError(err)) {
    return { httpStatus: 400, grpcCode: GrpcStatus.INVALID_ARGUMENT, body: err.toArmErrorBody() };
  }
  return {
    httpStatus: 500,
    grpcCode: GrpcStatus.INTERNAL,
    body: { error: { code: 'InternalServerError', message: `The service failed to process the request; quote request id ${requestId}.` } },
  };
}
