import { createHash } from 'node:crypto';
import { DistciError } from '../core/errors.js';

export type Role = 'admin' | 'user' | 'worker';
export const ROLES: readonly Role[] = ['admin', 'user', 'worker'];

/** What a route needs; `public` routes (health, OpenAPI) need no token. */
export type Permission = 'public' | 'read' | 'tickets:post' | 'tickets:lease' | 'jobs:write' | 'builds:trigger';

const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  admin: new Set(['read', 'tickets:post', 'tickets:lease', 'jobs:write', 'builds:trigger']),
  // Workers post step tickets, write under their leases and trigger downstream builds.
  worker: new Set(['read', 'tickets:post', 'tickets:lease', 'builds:trigger']),
  user: new Set(['read', 'jobs:write', 'builds:trigger']),
};

export interface TokenConfig {
  name: string;
  role: Role;
  token: string;
}

export interface Identity {
  name: string;
  role: Role;
}

const digest = (token: string): string => createHash('sha256').update(token).digest('hex');

/**
 * Bearer-token authentication. Tokens are kept only as SHA-256 digests, and a presented
 * token is looked up by its digest, so comparing never touches the secret itself.
 */
export class Authenticator {
  private readonly byDigest = new Map<string, Identity>();

  constructor(tokens: readonly TokenConfig[]) {
    for (const t of tokens) this.byDigest.set(digest(t.token), { name: t.name, role: t.role });
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
    const identity = this.byDigest.get(digest(match[1]));
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
