import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DistciError, type ErrorCode } from '../core/errors.js';

/** The one place where error codes become HTTP statuses. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_name: 400,
  malformed_json: 400,
  body_too_large: 413,
  unsupported_media_type: 415,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  route_not_found: 404,
  conflict: 409,
  lease_lost: 409,
  idempotency_mismatch: 409,
  unavailable: 503,
  internal: 500,
};

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

type ValidationIssue = { instancePath: string; message?: string; params: Record<string, unknown> };

/** `body.priority: must be integer` — points at the field to fix. */
function describeValidation(context: string, issues: ValidationIssue[]): string {
  return issues
    .map((issue) => {
      const path = `${context}${issue.instancePath.replaceAll('/', '.')}`;
      const extra = issue.params.additionalProperty ? ` ('${String(issue.params.additionalProperty)}')` : '';
      const allowed = Array.isArray(issue.params.allowedValues) ? `: ${issue.params.allowedValues.join(', ')}` : '';
      return `${path}: ${issue.message ?? 'is invalid'}${extra}${allowed}`;
    })
    .join('; ');
}

/** Converts anything thrown in a request into our error shape. */
export function toDistciError(err: unknown): DistciError {
  if (err instanceof DistciError) return err;
  const fe = err as FastifyError & { validation?: ValidationIssue[]; validationContext?: string };
  if (fe.validation) return new DistciError('invalid_request', describeValidation(fe.validationContext ?? 'body', fe.validation));
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new DistciError('malformed_json', `request body is not valid JSON: ${fe.message}`);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new DistciError('body_too_large', `${fe.message}; send a smaller body or raise the frontend's bodyLimit`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new DistciError('unsupported_media_type', `${fe.message}; send application/json`);
    default:
      if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
        return new DistciError('invalid_request', fe.message);
      }
      return new DistciError('internal', 'internal error; the frontend log has the details');
  }
}

export function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const error = toDistciError(err);
  const status = HTTP_STATUS[error.code];
  if (status >= 500 && error.code === 'internal') request.log.error({ err }, 'request failed');
  else if (status >= 500) request.log.warn({ code: error.code, msg: error.message }, 'request failed');
  const body: ErrorBody = { error: { code: error.code, message: error.message } };
  if (Object.keys(error.details).length > 0) body.error.details = { ...error.details };
  if (status === 401) void reply.header('www-authenticate', 'Bearer realm="distci"');
  return reply.code(status).type('application/json').send(body);
}
