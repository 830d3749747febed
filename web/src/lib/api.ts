/** The public API as the browser calls it: same origin, bearer token when signed in. */
import type { Build, BuildSummary, JobRecord, JobSummary, JobVersion, QueueView, Readiness, Session, WorkersView } from './types.js';

const TOKEN_KEY = 'distci.token';

export function storedToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string | null): void {
  if (token === null) localStorage.removeItem(TOKEN_KEY);
  else localStorage.setItem(TOKEN_KEY, token);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Told when any call comes back 401, so the app can ask for a token. */
let onUnauthorized: (() => void) | null = null;
export function whenUnauthorized(listener: () => void): void {
  onUnauthorized = listener;
}

export function authHeaders(): Record<string, string> {
  const token = storedToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(`/api/v1${path}`, { ...init, headers: { accept: 'application/json', ...authHeaders(), ...(init.headers as Record<string, string> | undefined) } });
  if (res.ok) return res;
  let body: { error?: { code?: string; message?: string; details?: Record<string, unknown> } } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // not JSON: a proxy's error page; the status says enough
  }
  if (res.status === 401) onUnauthorized?.();
  throw new ApiError(res.status, body.error?.code ?? 'http_error', body.error?.message ?? `${res.status} ${res.statusText}`, body.error?.details ?? {});
}

async function json<T>(path: string, init?: RequestInit): Promise<T> {
  return (await (await request(path, init)).json()) as T;
}

const post = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const enc = encodeURIComponent;

export const api = {
  session: () => json<Session>('/session'),
  jobs: (query: { q?: string; after?: string; limit?: number }) => {
    const params = new URLSearchParams();
    if (query.q) params.set('q', query.q);
    if (query.after) params.set('after', query.after);
    params.set('limit', String(query.limit ?? 50));
    return json<{ jobs: JobSummary[]; next: string | null }>(`/jobs?${params}`);
  },
  job: (job: string) => json<JobRecord>(`/jobs/${enc(job)}`),
  jobVersion: (job: string, version: number) => json<JobVersion>(`/jobs/${enc(job)}?version=${version}`),
  applyJob: (job: string, text: string, format: 'yaml' | 'json', ifMatch: number) =>
    json<JobRecord>(`/jobs/${enc(job)}`, { method: 'PUT', headers: { 'content-type': `application/${format}`, 'if-match': String(ifMatch) }, body: text }),
  builds: (job: string, query: { before?: number; limit?: number } = {}) =>
    json<{ builds: BuildSummary[]; next: number | null }>(
      `/jobs/${enc(job)}/builds?limit=${query.limit ?? 20}${query.before ? `&before=${query.before}` : ''}`,
    ),
  build: (job: string, n: number) => json<Build>(`/jobs/${enc(job)}/builds/${n}`),
  trigger: (job: string, parameters: Record<string, string>) =>
    json<BuildSummary>(`/jobs/${enc(job)}/builds`, post({ parameters, cause: { kind: 'ui' }, idempotencyKey: `ui-${crypto.randomUUID()}` })),
  cancel: (job: string, n: number) => json<BuildSummary>(`/jobs/${enc(job)}/builds/${n}/cancel`, { method: 'POST' }),
  artifacts: (job: string, n: number) => json<{ number: number; artifacts: { path: string; size: number }[] }>(`/jobs/${enc(job)}/builds/${n}/artifacts`),
  artifactUrl: (job: string, n: number, path: string) => `/api/v1/jobs/${enc(job)}/builds/${n}/artifacts/${path.split('/').map(enc).join('/')}`,
  consoleUrl: (job: string, n: number) => `/api/v1/jobs/${enc(job)}/builds/${n}/console?follow=1`,
  queue: () => json<QueueView>('/queue'),
  workers: () => json<WorkersView>('/workers'),
  readiness: async (): Promise<Readiness> => (await fetch('/readyz')).json() as Promise<Readiness>,
};
