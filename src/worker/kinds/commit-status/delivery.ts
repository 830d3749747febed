/**
 * Sending to a forge: one request with a timeout, and the loop that repeats a whole
 * report (read, then post if needed) with full-jitter exponential backoff while the forge
 * answers 5xx/429 or cannot be reached. A 4xx is the forge's final word: `ForgeRejected`.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { ForgeRequest } from './forges.js';

export interface RetryPolicy {
  /** First backoff; doubles per failure up to `maxBackoffMs`, each wait drawn at random below it. */
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** Stop retrying after this long (the ticket then ends as an error). */
  giveUpAfterMs: number;
  /** One request's limit. */
  requestTimeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseBackoffMs: 500, maxBackoffMs: 60_000, giveUpAfterMs: 3_600_000, requestTimeoutMs: 30_000 };

/** The forge refused the request (4xx other than 429); retrying the same request cannot help. */
export class ForgeRejected extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** The forge could not be reached or answered 5xx/429: worth another try. */
class ForgeUnavailable extends Error {}

export async function send(request: ForgeRequest, policy: RetryPolicy, signal: AbortSignal): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body !== undefined ? { body: request.body } : {}),
      signal: AbortSignal.any([signal, AbortSignal.timeout(policy.requestTimeoutMs)]),
    });
  } catch (err) {
    signal.throwIfAborted();
    throw new ForgeUnavailable(`${request.method} ${withoutQuery(request.url)}: ${(err as Error).message}`);
  }
  const text = await res.text().catch((err: Error) => {
    throw new ForgeUnavailable(`${request.method} ${withoutQuery(request.url)}: reading the answer failed: ${err.message}`);
  });
  if (res.ok) return text ? parse(text) : null;
  const what = `${request.method} ${withoutQuery(request.url)} answered ${res.status}${forgeMessage(text)}`;
  if (res.status >= 500 || res.status === 429) throw new ForgeUnavailable(what);
  throw new ForgeRejected(res.status, what);
}

/**
 * Runs `attempt` until it returns, retrying forge outages with backoff; ForgeRejected and
 * an abort pass through. `onRetry` is told each failure (for the log).
 */
export async function withBackoff<T>(
  attempt: () => Promise<T>,
  policy: RetryPolicy,
  signal: AbortSignal,
  onRetry: (err: Error, waitMs: number) => void,
): Promise<T> {
  const giveUpAt = Date.now() + policy.giveUpAfterMs;
  for (let failures = 0; ; failures++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof ForgeUnavailable) || Date.now() >= giveUpAt) throw err;
      const cap = Math.min(policy.maxBackoffMs, policy.baseBackoffMs * 2 ** Math.min(failures, 20));
      const waitMs = Math.random() * cap;
      onRetry(err, waitMs);
      await delay(waitMs, undefined, { signal });
    }
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** The forge's own explanation (`message`, `error`), short; never our request. */
function forgeMessage(text: string): string {
  const body = parse(text) as { message?: unknown; error?: unknown } | null;
  const message = body?.message ?? body?.error;
  if (message === undefined) return '';
  return `: ${(typeof message === 'string' ? message : JSON.stringify(message)).slice(0, 300)}`;
}

function withoutQuery(url: string): string {
  return url.split('?')[0]!;
}
