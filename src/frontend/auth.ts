import { createHash } from 'node:crypto';
import { Minimatch } from 'minimatch';
import { DistciError } from '../core/errors.js';

export type Role = 'admin' | 'user' | 'viewer' | 'worker';
export const ROLES: readonly Role[] = ['admin', 'user', 'viewer', 'worker'];

/** What a route needs; `public` routes (health, OpenAPI) need no token. */
export type Permission = 'public' | 'read' | 'tickets:post' | 'tickets:lease' | 'jobs:write' | 'builds:trigger' | 'secrets' | 'audit';

const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  admin: new Set(['read', 'tickets:post', 'tickets:lease', 'jobs:write', 'builds:trigger', 'secrets', 'audit']),
  // Workers post step tickets, write under their leases and trigger downstream builds.
  worker: new Set(['read', 'tickets:post', 'tickets:lease', 'builds:trigger']),
  user: new Set(['read', 'jobs:write', 'builds:trigger']),
  // Read only: dashboards, people who watch builds.
  viewer: new Set(['read']),
};

export interface TokenConfig {
  name: string;
  role: Role;
  /** The bearer token, or its digest written `sha256:<64 hex digits>` so no plaintext sits in the config. */
  token: string;
  /** Glob over job names (`team-a-*`): the token may only see and act on matching jobs. */
  jobs?: string;
}

export interface Identity {
  name: string;
  role: Role;
  /** Set for a token limited to the jobs matching this glob. */
  jobs?: string;
}

/** Characters of job names plus glob syntax; no `/`, so a pattern never spans paths. */
export const JOB_PATTERN = '^[A-Za-z0-9._*?!\\[\\]{}()@+|,-]{1,200}$';

const DIGEST = /^sha256:([0-9a-fA-F]{64})$/;

/** The SHA-256 of a token, or the digest it already is (`sha256:<hex>`). */
export function tokenDigest(token: string): string {
  const written = DIGEST.exec(token);
  return written ? written[1]!.toLowerCase() : createHash('sha256').update(token).digest('hex');
}

/** Problems a schema cannot see, as `index: message`; empty when the tokens are fine. */
export function tokenProblems(tokens: readonly TokenConfig[]): { index: number; message: string }[] {
  const problems: { index: number; message: string }[] = [];
  const seen = new Map<string, number>();
  tokens.forEach((t, index) => {
    if (/^sha256:/i.test(t.token) && !DIGEST.test(t.token)) {
      problems.push({ index, message: `token '${t.name}': a digest is written sha256: and 64 hex digits (printf %s "$TOKEN" | sha256sum)` });
    }
    if (t.jobs !== undefined && t.role === 'worker') {
      problems.push({ index, message: `token '${t.name}': a worker serves the tickets of every job and cannot be limited to jobs; remove its job pattern or give it role user` });
    }
    const digest = tokenDigest(t.token);
    const earlier = seen.get(digest);
    if (earlier !== undefined) problems.push({ index, message: `token '${t.name}' has the same secret as token ${earlier}; give each token its own secret` });
    seen.set(digest, index);
  });
  return problems;
}

const matchers = new Map<string, Minimatch>();

/** Whether a job name matches a job pattern (a glob such as `team-a-*`; no negation). */
export function matchesJobPattern(pattern: string, job: string): boolean {
  let matcher = matchers.get(pattern);
  if (!matcher) {
    matcher = new Minimatch(pattern, { dot: true, nocomment: true, nonegate: true });
    matchers.set(pattern, matcher);
  }
  return matcher.match(job);
}

/** True when the caller may see and act on `job`: always, unless its token is limited to a job pattern. */
export function allowsJob(identity: Identity | undefined, job: string): boolean {
  return identity?.jobs === undefined || matchesJobPattern(identity.jobs, job);
}

/**
 * A token limited to a job pattern reaches only routes about one job whose name matches
 * (`job` is that route's `:job` parameter) or routes that filter what they return by
 * `allowsJob` themselves (`filters`). Everything else — tickets, secrets, the audit log —
 * is refused: a route added later is closed to scoped tokens until it says otherwise.
 */
export function requireJobScope(identity: Identity | undefined, job: unknown, filters: boolean): void {
  if (identity?.jobs === undefined) return;
  if (typeof job === 'string') {
    if (allowsJob(identity, job)) return;
    throw new DistciError('forbidden', `token '${identity.name}' may only act on jobs matching '${identity.jobs}', not on '${job}'; use a token whose job pattern covers it`, {
      job,
      pattern: identity.jobs,
    });
  }
  if (filters) return;
  throw new DistciError('forbidden', `token '${identity.name}' is limited to jobs matching '${identity.jobs}' and this call is not about one of them; use an unrestricted token`, {
    pattern: identity.jobs,
  });
}

/**
 * Bearer-token authentication. Tokens are kept only as SHA-256 digests (and may be
 * configured as digests), and a presented token is looked up by its digest, so comparing
 * never touches the secret itself.
 */
export class Authenticator {
  private readonly byDigest = new Map<string, Identity>();

  constructor(tokens: readonly TokenConfig[]) {
    const problem = tokenProblems(tokens)[0];
    if (problem) throw new DistciError('invalid_request', problem.message);
    for (const t of tokens) {
      this.byDigest.set(tokenDigest(t.token), { name: t.name, role: t.role, ...(t.jobs !== undefined ? { jobs: t.jobs } : {}) });
    }
  }

  get enabled(): boolean {
    return this.byDigest.size > 0;
  }

  /** Returns who is calling, or throws 401/403. With no tokens configured everyone is admin. */
  authorize(authorization: string | undefined, permission: Permission): Identity {
    if (permission === 'public' || !this.enabled) return { name: 'anonymous', role: 'admin' };
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!match?.[1]) {
      throw new DistciError('unauthorized', 'missing bearer token: send "Authorization: Bearer <token>" (DISTCI_TOKEN for the CLI and workers)');
    }
    // A presented token is always hashed: sending a configured digest itself does not match.
    const identity = this.byDigest.get(createHash('sha256').update(match[1]).digest('hex'));
    if (!identity) throw new DistciError('unauthorized', 'unknown or revoked token: check DISTCI_TOKEN');
    if (!GRANTS[identity.role].has(permission)) {
      throw new DistciError('forbidden', `role '${identity.role}' may not do this (needs '${permission}'); use a token with a role that may`, {
        role: identity.role,
        permission,
      });
    }
    return identity;
  }
}
