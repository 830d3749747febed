/** The one place where S3 and network errors of the `s3://` store become ours. */
import { ConflictError, DistciError, NotFoundError, UnavailableError, ValidationError } from '../../core/errors.js';
import { statusOf } from './s3-client.js';

export interface S3ErrorContext {
  /** `s3://bucket/prefix` (never with credentials). */
  store: string;
  /** What we were doing, e.g. `put`, `list`. */
  op: string;
  /** The store key (not the S3 key). */
  key?: string;
}

/** Node and SDK errors that mean the endpoint could not be reached or stopped answering. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
]);

const CREDENTIAL_NAMES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
  'CredentialsProviderError',
]);

function nameOf(err: unknown): string {
  const name = (err as { Code?: unknown; name?: unknown }).Code ?? (err as { name?: unknown }).name;
  return typeof name === 'string' ? name : 'Error';
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Translates a native error. Ours pass through; so do errors that are not the service's
 * (an aborted put's reason, a failing body stream), which callers sort out before this.
 */
export function s3Error(err: unknown, ctx: S3ErrorContext): Error {
  if (err instanceof DistciError) return err;
  if (typeof err !== 'object' || err === null) return new Error(String(err));
  const status = statusOf(err);
  // Answers without a body (HEAD requests) carry no error code; the SDK names them 'Unknown'.
  const named = nameOf(err);
  const name = named === 'Unknown' && status !== undefined ? `HTTP ${status}` : named;
  const code = codeOf(err);
  const what = ctx.key === undefined ? `${ctx.op} in store ${ctx.store}` : `${ctx.op} of '${ctx.key}' in store ${ctx.store}`;
  const details = { op: ctx.op, key: ctx.key, store: ctx.store, status, cause: code ?? name };

  if (name === 'NoSuchKey' && ctx.key !== undefined) return new NotFoundError('object', ctx.key);
  if (name === 'NoSuchBucket') {
    return new UnavailableError(`${what} failed: the bucket does not exist; create it, or start distci with credentials that may`, details);
  }
  if (status === 412 || name === 'PreconditionFailed') {
    return new ConflictError(
      `object '${ctx.key ?? '?'}' already exists and this put was create-only; read it, or write under a new key`,
      { key: ctx.key },
    );
  }
  if (status === 403 || status === 401 || CREDENTIAL_NAMES.has(name)) {
    return new UnavailableError(
      `${what} failed: the S3 endpoint refused our credentials (${name}); check AWS_ACCESS_KEY_ID and ` +
        'AWS_SECRET_ACCESS_KEY (or the instance role) and that this user may use the bucket',
      details,
    );
  }
  if (name === 'EntityTooLarge' || name === 'KeyTooLongError') {
    return new ValidationError(`${what} failed: ${name}; the object or its key is too large for this S3 service`, details);
  }
  if (name === 'AbortError') return err as Error;
  if (status === undefined) {
    // No answer from the service: refused, reset, timed out, or the name did not resolve.
    const known = (code !== undefined && NETWORK_CODES.has(code)) || name === 'TimeoutError';
    const why = known ? code ?? name : `${code ?? name}: ${(err as Error).message}`;
    return new UnavailableError(
      `${what} failed: cannot reach the S3 endpoint (${why}); check that the gateway is running and reachable, then retry`,
      details,
    );
  }
  if (status >= 500 || status === 429 || status === 408 || name === 'SlowDown' || name === 'RequestTimeout') {
    return new UnavailableError(`${what} failed: the S3 service answered ${status} (${name}); retry, and check the gateway's health if it persists`, details);
  }
  return new DistciError('internal', `${what} failed: the S3 service answered ${status} (${name}): ${(err as Error).message}`, details);
}
