import { setTimeout as delay } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { DistciError, UnavailableError, type ErrorCode } from '../core/errors.js';

export interface ApiClientOptions {
  /** Frontends to talk to; any one will do. Tried in turn when one fails. */
  servers: string[];
  token?: string;
  /** Per-request timeout for ordinary calls (long polls add their wait to it). */
  timeoutMs?: number;
  /** Backoff between retries: `min(maxBackoffMs, baseBackoffMs * 2^n)` with full jitter. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Keep retrying transient failures until this time (ms since epoch); default: forever. */
  retryUntil?: number;
  /** Extra time the server may hold the request (long polls). */
  holdMs?: number;
  headers?: Record<string, string>;
  /** Send this text as the body as it is (its content-type in `headers`). */
  rawBody?: string;
}

/** An error answer from a frontend, carrying its stable code. */
export class ApiError extends DistciError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly status: number,
  ) {
    super(code, message, { status });
  }
}

const RETRYABLE_STATUS = new Set([500, 502, 503, 504]);

/**
 * HTTP client for workers and the CLI. Transient failures (refused or reset connections,
 * timeouts, 5xx) move on to the next frontend after a jittered backoff and retry — every
 * call it makes is idempotent by design (idempotency keys, claim ids, fencing tokens),
 * so a retry after an unknown outcome is safe. 4xx answers are thrown as ApiError.
 */
export class ApiClient {
  readonly servers: string[];
  private current = 0;
  private readonly agent: Agent;
  private readonly timeoutMs: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(private readonly options: ApiClientOptions) {
    if (options.servers.length === 0) throw new DistciError('invalid_request', 'no frontend URL given: pass --server or set DISTCI_SERVER');
    this.servers = options.servers.map((s) => s.replace(/\/+$/, ''));
    this.current = Math.floor(Math.random() * this.servers.length);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.baseBackoffMs = options.baseBackoffMs ?? 50;
    this.maxBackoffMs = options.maxBackoffMs ?? 2_000;
    this.agent = new Agent({ keepAliveTimeout: 60_000, connections: 256 });
  }

  async call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, opts: CallOptions = {}): Promise<{ status: number; body: T }> {
    return this.withRetries(opts, async (server) => {
      const headers: Record<string, string> = { ...opts.headers };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const payload = opts.rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
      const res = await this.send(server, method, path, headers, payload, opts);
      return { status: res.statusCode, body: (await parseBody(res)) as T };
    });
  }

  /** PUT of a stream; `body` is called again for each retry. */
  async upload<T>(path: string, body: () => Readable, token: number, opts: CallOptions = {}): Promise<{ status: number; body: T }> {
    return this.withRetries(opts, async (server) => {
      const headers = { ...opts.headers, 'content-type': 'application/octet-stream', 'x-distci-token': String(token) };
      const res = await this.send(server, 'PUT', path, headers, body(), opts);
      return { status: res.statusCode, body: (await parseBody(res)) as T };
    });
  }

  /** GET of a stream (a workspace, an artifact). */
  async download(path: string, opts: CallOptions = {}): Promise<Readable> {
    return this.withRetries(opts, async (server) => (await this.send(server, 'GET', path, { ...opts.headers }, undefined, opts)).body);
  }

  private async withRetries<T>(opts: CallOptions, attemptOnce: (server: string) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      opts.signal?.throwIfAborted();
      const server = this.servers[this.current % this.servers.length]!;
      try {
        return await attemptOnce(server);
      } catch (err) {
        if (err instanceof ApiError && !RETRYABLE_STATUS.has(err.status)) throw err;
        if (opts.signal?.aborted) throw opts.signal.reason ?? err;
        if (opts.retryUntil !== undefined && Date.now() >= opts.retryUntil) {
          throw err instanceof DistciError ? err : new UnavailableError(`no frontend answered: ${(err as Error).message}`);
        }
        this.current++;
        // Full jitter: retrying workers spread out instead of stampeding the survivor.
        const cap = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** Math.min(attempt, 10));
        await delay(Math.random() * cap, undefined, { signal: opts.signal }).catch(() => undefined);
      }
    }
  }

  /** One request to one server; error statuses become ApiError (the body is consumed). */
  private async send(
    server: string,
    method: Dispatcher.HttpMethod,
    path: string,
    headers: Record<string, string>,
    body: string | Readable | undefined,
    opts: CallOptions,
  ): Promise<Dispatcher.ResponseData> {
    const timeout = this.timeoutMs + (opts.holdMs ?? 0);
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    const signal = opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(timeout)]) : AbortSignal.timeout(timeout);
    // A streamed upload gets a connection of its own, closed after the answer: a frontend
    // that answers early (a 503 from its store midway) leaves the rest of the body unread,
    // and a pooled connection in that state would hang the next request sent on it.
    const reset = body !== undefined && typeof body !== 'string';
    const res = await request(`${server}${path}`, { method, headers, body, reset, dispatcher: this.agent, signal, headersTimeout: timeout, bodyTimeout: timeout });
    if (res.statusCode >= 400) {
      const parsed = await parseBody(res);
      const detail = typeof parsed === 'object' && parsed !== null ? (parsed as { error?: { code?: ErrorCode; message?: string } }).error : undefined;
      throw new ApiError(detail?.code ?? 'internal', detail?.message ?? `HTTP ${res.statusCode} from ${server}`, res.statusCode);
    }
    return res;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

async function parseBody(res: Dispatcher.ResponseData): Promise<unknown> {
  const text = await res.body.text();
  return text.length > 0 && /json/.test(String(res.headers['content-type'] ?? '')) ? (JSON.parse(text) as unknown) : text;
}
