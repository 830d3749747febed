/**
 * A local stand-in for GitHub's and GitLab's commit status APIs that checks every request
 * against the documented shapes (method, path, auth header, body fields) and answers as the
 * forges do: GitHub 401 / 403 / 422, GitLab 401 / 400 (including its refusal to repeat a
 * running state). Faults on demand: the next N requests answered 502, and a POST that is
 * applied but whose answer is lost (connection dropped) or never sent (held).
 *
 * GitHub: POST /repos/{owner}/{repo}/statuses/{sha}; GET /repos/{owner}/{repo}/commits/{ref}/statuses
 * GitLab: POST /api/v4/projects/:id/statuses/:sha; GET /api/v4/projects/:id/repository/commits/:sha/statuses
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ForgeStatus {
  forge: 'github' | 'gitlab';
  repo: string;
  sha: string;
  state: string;
  context: string;
  targetUrl: string | null;
  description: string | null;
  ref?: string;
}

export type PostFate = 'answer' | 'drop' | 'hold';

const GITHUB_STATES = ['error', 'failure', 'pending', 'success'];
const GITHUB_FIELDS = new Set(['state', 'target_url', 'description', 'context']);
const GITLAB_STATES = ['pending', 'running', 'success', 'failed', 'canceled', 'skipped'];
const GITLAB_FINAL = new Set(['success', 'failed', 'canceled', 'skipped']);
const GITLAB_FIELDS = new Set(['state', 'ref', 'name', 'context', 'target_url', 'description', 'coverage', 'pipeline_id']);
const SHA = '([0-9a-f]{40})';

class Refusal extends Error {
  constructor(readonly status: number, readonly body: unknown) {
    super(`refused with ${status}`);
  }
}

export class FakeForge extends EventEmitter {
  readonly statuses: ForgeStatus[] = [];
  /** Every request: method, path and the answer (a status, `dropped` or `held`). */
  readonly requests: { method: string; path: string; answer: number | 'dropped' | 'held' }[] = [];
  /** Decides what happens to the answer of each accepted POST (the status is recorded first). */
  postFate: (status: ForgeStatus) => PostFate = () => 'answer';
  /** How long an accepted POST takes before it is applied (a slow forge). */
  applyDelayMs: (status: ForgeStatus) => number = () => 0;
  private failures: number[] = [];
  private readonly held: ServerResponse[] = [];

  private constructor(private readonly server: Server, readonly token: string) {
    super();
  }

  static async start(token: string): Promise<FakeForge> {
    const server = createServer();
    const forge = new FakeForge(server, token);
    server.on('request', (req, res) => void forge.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return forge;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The next `n` requests (any) are answered `status` without being looked at. */
  failNext(n: number, status = 502): void {
    this.failures.push(...Array<number>(n).fill(status));
  }

  of(context: string): ForgeStatus[] {
    return this.statuses.filter((s) => s.context === context);
  }

  async close(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    const text = await readBody(req);
    const log = { method: req.method ?? '', path, answer: 0 as number | 'dropped' | 'held' };
    this.requests.push(log);
    const failure = this.failures.shift();
    if (failure !== undefined) return answer(res, log, failure, { message: 'Server Error' });
    try {
      const [pathname = '', search = ''] = path.split('?');
      const query = new URLSearchParams(search);
      const result = pathname.startsWith('/api/v4/') ? this.gitlab(req, pathname, query, text) : this.github(req, pathname, query, text);
      if (result.posted) {
        const delayMs = this.applyDelayMs(result.posted);
        if (delayMs > 0) {
          this.statuses.splice(this.statuses.indexOf(result.posted), 1);
          await new Promise((resolve) => setTimeout(resolve, delayMs));
          this.statuses.push(result.posted);
        }
        this.emit('post', result.posted);
        const fate = this.postFate(result.posted);
        if (fate === 'drop') {
          log.answer = 'dropped';
          req.socket.destroy();
          return;
        }
        if (fate === 'hold') {
          log.answer = 'held';
          this.held.push(res);
          return;
        }
      }
      answer(res, log, result.status, result.body);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      answer(res, log, err.status, err.body);
    }
  }

  private github(req: IncomingMessage, path: string, query: URLSearchParams, text: string): Handled {
    const auth = /^(?:Bearer|token) (.+)$/.exec(req.headers.authorization ?? '');
    if (auth?.[1] !== this.token) throw new Refusal(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    if (!req.headers['user-agent']) throw new Refusal(403, { message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header' });
    if (!(req.headers.accept ?? '').includes('application/vnd.github+json')) throw new Refusal(415, { message: 'send Accept: application/vnd.github+json' });
    let m = new RegExp(`^/repos/([^/]+)/([^/]+)/statuses/${SHA}$`).exec(path);
    if (m && req.method === 'POST') {
      const body = jsonObject(req, text, 422);
      const unknown = Object.keys(body).filter((k) => !GITHUB_FIELDS.has(k));
      const bad = (field: string, code = 'invalid') => new Refusal(422, { message: 'Validation Failed', errors: [{ resource: 'Status', field, code }] });
      if (unknown.length > 0) throw bad(unknown[0]!, 'unexpected');
      if (body.state === undefined) throw bad('state', 'missing_field');
      if (!GITHUB_STATES.includes(String(body.state))) throw bad('state');
      if (body.target_url !== undefined && body.target_url !== null && !/^https?:\/\//.test(String(body.target_url))) throw bad('target_url');
      if (body.description !== undefined && (typeof body.description !== 'string' || body.description.length > 140)) throw bad('description');
      if (body.context !== undefined && (typeof body.context !== 'string' || body.context === '')) throw bad('context');
      const status: ForgeStatus = {
        forge: 'github',
        repo: `${m[1]}/${m[2]}`,
        sha: m[3]!,
        state: String(body.state),
        context: (body.context as string | undefined) ?? 'default',
        targetUrl: (body.target_url as string | null | undefined) ?? null,
        description: (body.description as string | undefined) ?? null,
      };
      this.statuses.push(status);
      const id = this.statuses.length;
      return { status: 201, body: { id, url: `${this.url}${path}`, state: status.state, description: status.description, target_url: status.targetUrl, context: status.context, created_at: new Date().toISOString() }, posted: status };
    }
    m = new RegExp(`^/repos/([^/]+)/([^/]+)/commits/([^/]+)/statuses$`).exec(path);
    if (m && req.method === 'GET') {
      const perPage = Number(query.get('per_page') ?? '30');
      if (!(perPage >= 1 && perPage <= 100)) throw new Refusal(422, { message: 'per_page must be 1-100' });
      const list = this.statuses.filter((s) => s.forge === 'github' && s.repo === `${m![1]}/${m![2]}` && s.sha === m![3]).reverse();
      return { status: 200, body: list.slice(0, perPage).map((s) => ({ state: s.state, context: s.context, target_url: s.targetUrl, description: s.description })) };
    }
    throw new Refusal(404, { message: 'Not Found' });
  }

  private gitlab(req: IncomingMessage, path: string, query: URLSearchParams, text: string): Handled {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (req.headers['private-token'] !== this.token && bearer !== this.token) throw new Refusal(401, { message: '401 Unauthorized' });
    let m = new RegExp(`^/api/v4/projects/([^/]+)/statuses/${SHA}$`).exec(path);
    if (m && req.method === 'POST') {
      const body = jsonObject(req, text, 400);
      const unknown = Object.keys(body).filter((k) => !GITLAB_FIELDS.has(k));
      if (unknown.length > 0) throw new Refusal(400, { error: `${unknown[0]} is not allowed` });
      if (body.state === undefined) throw new Refusal(400, { error: 'state is missing' });
      if (!GITLAB_STATES.includes(String(body.state))) throw new Refusal(400, { error: 'state does not have a valid value' });
      const name = String(body.name ?? body.context ?? 'default');
      const ref = typeof body.ref === 'string' ? body.ref : undefined;
      const project = decodeURIComponent(m[1]!);
      const latest = this.statuses.filter((s) => s.forge === 'gitlab' && s.repo === project && s.sha === m![2] && s.context === name).at(-1);
      if (latest && !GITLAB_FINAL.has(latest.state) && latest.state === body.state) {
        throw new Refusal(400, { message: `Cannot transition status via :${body.state === 'running' ? 'run' : 'enqueue'} from :${latest.state}` });
      }
      const status: ForgeStatus = {
        forge: 'gitlab',
        repo: project,
        sha: m[2]!,
        state: String(body.state),
        context: name,
        targetUrl: typeof body.target_url === 'string' ? body.target_url : null,
        description: typeof body.description === 'string' ? body.description : null,
        ...(ref ? { ref } : {}),
      };
      this.statuses.push(status);
      return { status: 201, body: { id: this.statuses.length, sha: status.sha, ref: ref ?? null, status: status.state, name, target_url: status.targetUrl, description: status.description }, posted: status };
    }
    m = new RegExp(`^/api/v4/projects/([^/]+)/repository/commits/${SHA}/statuses$`).exec(path);
    if (m && req.method === 'GET') {
      const project = decodeURIComponent(m[1]!);
      let list = this.statuses.filter((s) => s.forge === 'gitlab' && s.repo === project && s.sha === m![2]);
      if (query.get('name')) list = list.filter((s) => s.context === query.get('name'));
      if (query.get('all') !== 'true') list = list.filter((s, i) => !list.slice(i + 1).some((later) => later.context === s.context));
      return { status: 200, body: list.map((s) => ({ status: s.state, name: s.context, ref: s.ref ?? null, target_url: s.targetUrl, description: s.description })) };
    }
    throw new Refusal(404, { message: '404 Not Found' });
  }
}

interface Handled {
  status: number;
  body: unknown;
  posted?: ForgeStatus;
}

function jsonObject(req: IncomingMessage, text: string, status: number): Record<string, unknown> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) throw new Refusal(status, { message: 'send a JSON body (Content-Type: application/json)' });
  try {
    const body: unknown = JSON.parse(text);
    if (body !== null && typeof body === 'object' && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new Refusal(400, { message: 'Problems parsing JSON' });
}

function answer(res: ServerResponse, log: { answer: number | string }, status: number, body: unknown): void {
  log.answer = status;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
