/**
 * `s3://BUCKET/PREFIX?endpoint=http://host:7480&region=us-east-1&forcePathStyle=true` →
 * S3 store options. Credentials never come from the URL (URLs end up in logs and process
 * lists): they come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN),
 * or, when those are unset, from the SDK's default chain (profile, instance role).
 */
import { ValidationError } from '../../core/errors.js';
import type { S3StoreOptions } from './s3-store.js';

/** Bucket names as S3 (and RGW's default `rgw relaxed s3 bucket names = false`) accept them. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const PARAMS = ['endpoint', 'region', 'forcePathStyle', 'partSizeMiB', 'partConcurrency', 'maxAttempts', 'connectTimeoutMs', 'socketTimeoutMs'];

const EXAMPLE = 's3://distci/prod?endpoint=http://rgw.example:7480&region=us-east-1&forcePathStyle=true';

function bad(problem: string): ValidationError {
  return new ValidationError(`store URL is invalid: ${problem} (example: ${EXAMPLE})`, { field: 'store' });
}

function positiveInt(params: URLSearchParams, name: string, fallback: number): number {
  const text = params.get(name);
  if (text === null) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw bad(`${name}=${text} must be a whole number of at least 1`);
  return value;
}

export function parseS3Url(url: string, env: NodeJS.ProcessEnv = process.env): S3StoreOptions {
  const match = /^s3:\/\/([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/.exec(url);
  if (!match) throw bad("use s3://BUCKET/PREFIX?endpoint=...; no '#' fragment");
  const [, authority = '', path = '', query = ''] = match;
  if (authority.includes('@')) {
    throw bad('do not put credentials in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment');
  }
  if (!BUCKET.test(authority)) throw bad(`bucket '${authority}' must be 3-63 lowercase letters, digits, '.' or '-'`);
  let prefix: string;
  try {
    prefix = decodeURIComponent(path).replace(/^\/+|\/+$/g, '');
  } catch {
    throw bad('the prefix has a malformed %-escape');
  }
  const params = new URLSearchParams(query);
  for (const name of params.keys()) {
    if (!PARAMS.includes(name)) throw bad(`unknown parameter '${name}'; known: ${PARAMS.join(', ')}`);
  }
  const endpoint = params.get('endpoint') ?? undefined;
  if (endpoint !== undefined && !/^https?:\/\/[^/@]+\/?$/.test(endpoint)) {
    throw bad(`endpoint '${endpoint}' must be http(s)://HOST[:PORT], without a path or credentials`);
  }
  const pathStyle = params.get('forcePathStyle') ?? 'true';
  if (pathStyle !== 'true' && pathStyle !== 'false') throw bad(`forcePathStyle=${pathStyle} must be true or false`);
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new ValidationError('set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the s3:// store, or neither (to use a profile or instance role)');
  }
  return {
    bucket: authority,
    prefix,
    ...(endpoint === undefined ? {} : { endpoint }),
    region: params.get('region') ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    forcePathStyle: pathStyle === 'true',
    ...(accessKeyId !== undefined && secretAccessKey !== undefined
      ? { credentials: { accessKeyId, secretAccessKey, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) } }
      : {}),
    partSize: positiveInt(params, 'partSizeMiB', 8) * 1024 * 1024,
    partConcurrency: positiveInt(params, 'partConcurrency', 4),
    maxAttempts: positiveInt(params, 'maxAttempts', 3),
    connectTimeoutMs: positiveInt(params, 'connectTimeoutMs', 3000),
    socketTimeoutMs: positiveInt(params, 'socketTimeoutMs', 30_000),
  };
}
