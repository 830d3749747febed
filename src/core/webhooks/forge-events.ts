/**
 * What a build needs from a forge event (GitHub `push` / `pull_request`, GitLab
 * `Push Hook` / `Merge Request Hook`), read defensively: a payload is untrusted input.
 */
export interface ForgeEvent {
  kind: 'push' | 'pull_request';
  /** Every URL the forge gives for the repository (https, ssh, web). */
  repositories: string[];
  /** The branch pushed to, or a pull request's target branch (what branch filters match). */
  branch: string;
  commit: string;
  pr?: number;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 && v.length < 2048 ? v : undefined);
const urls = (...vs: unknown[]): string[] => vs.map(str).filter((v): v is string => v !== undefined);
const SHA = /^[0-9a-f]{7,64}$/i;

function branchOf(ref: unknown): string | undefined {
  const r = str(ref);
  return r?.startsWith('refs/heads/') ? r.slice('refs/heads/'.length) : undefined;
}

/** null: an event that triggers nothing (ping, tag push, branch deletion, closed PR…). */
export function githubEvent(event: string, payload: unknown): ForgeEvent | null {
  const p = obj(payload);
  const repo = obj(p.repository);
  const repositories = urls(repo.clone_url, repo.ssh_url, repo.html_url, repo.git_url);
  if (event === 'push') {
    const branch = branchOf(p.ref);
    const commit = str(p.after);
    if (!branch || !commit || !SHA.test(commit) || /^0+$/.test(commit)) return null;
    return { kind: 'push', repositories, branch, commit };
  }
  if (event === 'pull_request') {
    const pr = obj(p.pull_request);
    const action = str(p.action);
    if (!action || !['opened', 'synchronize', 'reopened'].includes(action)) return null;
    const commit = str(obj(pr.head).sha);
    const branch = str(obj(pr.base).ref);
    const number = typeof p.number === 'number' && Number.isInteger(p.number) ? p.number : undefined;
    if (!commit || !SHA.test(commit) || !branch || number === undefined) return null;
    return { kind: 'pull_request', repositories, branch, commit, pr: number };
  }
  return null;
}

export function gitlabEvent(event: string, payload: unknown): ForgeEvent | null {
  const p = obj(payload);
  if (event === 'Push Hook') {
    const project = obj(p.project);
    const repositories = urls(project.git_http_url, project.git_ssh_url, project.web_url, obj(p.repository).git_http_url);
    const branch = branchOf(p.ref);
    const commit = str(p.checkout_sha) ?? str(p.after);
    if (!branch || !commit || !SHA.test(commit) || /^0+$/.test(commit)) return null;
    return { kind: 'push', repositories, branch, commit };
  }
  if (event === 'Merge Request Hook') {
    const attrs = obj(p.object_attributes);
    const action = str(attrs.action);
    if (!action || !['open', 'update', 'reopen'].includes(action)) return null;
    const target = obj(attrs.target);
    const repositories = urls(target.git_http_url, target.git_ssh_url, target.web_url, obj(p.project).git_http_url);
    const commit = str(obj(attrs.last_commit).id);
    const branch = str(attrs.target_branch);
    const number = typeof attrs.iid === 'number' && Number.isInteger(attrs.iid) ? attrs.iid : undefined;
    if (!commit || !SHA.test(commit) || !branch || number === undefined) return null;
    return { kind: 'pull_request', repositories, branch, commit, pr: number };
  }
  return null;
}
