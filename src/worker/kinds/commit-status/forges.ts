/**
 * The two forges' commit status APIs, as plain request descriptions and answer parsers:
 * - GitHub REST "statuses": `POST /repos/{owner}/{repo}/statuses/{sha}` with
 *   `{state: pending|success|failure|error, target_url, description, context}`;
 *   `GET /repos/{owner}/{repo}/commits/{ref}/statuses` lists them, newest first.
 * - GitLab "commit status": `POST /projects/:id/statuses/:sha` with
 *   `{state: pending|running|success|failed|canceled, ref, name, target_url, description}`;
 *   `GET /projects/:id/repository/commits/:sha/statuses` lists them.
 */
import type { Report, ReportState } from '../../../core/builds/commit-status.js';
import type { CommitStatusConfig } from '../../../core/jobs/types.js';

export interface ForgeRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** A status already on the commit, in the forge's own state names. */
export interface ExistingStatus {
  name: string;
  state: string;
  targetUrl: string | null;
}

export interface Forge {
  /** The forge's spelling of a report state. */
  state(state: ReportState): string;
  /** Forge states that end a status (a later report of the same build would be a second final one). */
  readonly finalStates: ReadonlySet<string>;
  list(): ForgeRequest;
  parseList(body: unknown): ExistingStatus[];
  post(report: Report): ForgeRequest;
}

export interface Target {
  config: CommitStatusConfig;
  /** `owner/name` (GitHub), project path or id (GitLab). */
  repository: string;
  commit: string;
  branch: string;
  token: string;
}

const GITHUB_STATES: Record<ReportState, string> = { running: 'pending', success: 'success', failure: 'failure', error: 'error', cancelled: 'error' };
const GITLAB_STATES: Record<ReportState, string> = { running: 'running', success: 'success', failure: 'failed', error: 'failed', cancelled: 'canceled' };
/** GitHub and GitLab cap descriptions (GitHub at 140 characters). */
const MAX_DESCRIPTION = 140;

export function forgeFor(target: Target): Forge {
  switch (target.config.provider) {
    case 'github':
      return github(target);
    case 'gitlab':
      return gitlab(target);
  }
}

function github(t: Target): Forge {
  const [owner = '', name = ''] = t.repository.split('/');
  const repo = `${t.config.apiUrl}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
  const headers = {
    accept: 'application/vnd.github+json',
    authorization: `Bearer ${t.token}`,
    'x-github-api-version': '2022-11-28',
    'user-agent': 'distci',
  };
  return {
    state: (s) => GITHUB_STATES[s],
    finalStates: new Set(['success', 'failure', 'error']),
    list: () => ({ method: 'GET', url: `${repo}/commits/${t.commit}/statuses?per_page=100`, headers }),
    parseList: (body) =>
      items(body).map((s) => ({ name: String(s.context ?? ''), state: String(s.state ?? ''), targetUrl: typeof s.target_url === 'string' ? s.target_url : null })),
    post: (r) => ({
      method: 'POST',
      url: `${repo}/statuses/${t.commit}`,
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ state: GITHUB_STATES[r.state], target_url: r.targetUrl, description: r.description.slice(0, MAX_DESCRIPTION), context: t.config.context }),
    }),
  };
}

function gitlab(t: Target): Forge {
  const project = `${t.config.apiUrl}/projects/${encodeURIComponent(t.repository)}`;
  const headers = { 'private-token': t.token, accept: 'application/json' };
  const query = new URLSearchParams({ name: t.config.context, all: 'true', per_page: '100' });
  return {
    state: (s) => GITLAB_STATES[s],
    finalStates: new Set(['success', 'failed', 'canceled']),
    list: () => ({ method: 'GET', url: `${project}/repository/commits/${t.commit}/statuses?${query}`, headers }),
    parseList: (body) =>
      items(body).map((s) => ({ name: String(s.name ?? ''), state: String(s.status ?? ''), targetUrl: typeof s.target_url === 'string' ? s.target_url : null })),
    post: (r) => ({
      method: 'POST',
      url: `${project}/statuses/${t.commit}`,
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ state: GITLAB_STATES[r.state], ref: t.branch, name: t.config.context, target_url: r.targetUrl, description: r.description.slice(0, MAX_DESCRIPTION) }),
    }),
  };
}

function items(body: unknown): Record<string, unknown>[] {
  if (!Array.isArray(body)) return [];
  return body.filter((x): x is Record<string, unknown> => x !== null && typeof x === 'object');
}
