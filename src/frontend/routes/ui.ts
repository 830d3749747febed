/**
 * The web UI: static files built by `npm run build:web` into `dist/ui/`, served by every
 * frontend from memory (they are small), plus `GET /api/v1/session`, which tells the UI
 * who the caller is and what their role may do, so it shows no button that would be
 * refused. Everything else the UI does goes through the public API.
 *
 * Caching: `index.html` is revalidated on every load (ETag); files under `/ui/` carry a
 * content hash in their names and are cached for a year. No CDN, nothing fetched at run
 * time from elsewhere.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Authenticator, Identity, Permission } from '../auth.js';

export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../ui/', import.meta.url));

export interface UiRoutesOptions {
  auth: Authenticator;
  /** Where the built UI lives (default `dist/ui`). */
  webRoot?: string;
}

interface Asset {
  body: Buffer;
  gzip: Buffer | null;
  type: string;
  etag: string;
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** esbuild's `[name]-[hash]` names: a change of content is a change of name. */
const HASHED = /-[A-Z0-9]{8}(\.[a-z]+)+$/;

// The UI needs nothing from elsewhere; say so to the browser.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const MUTATING: Permission[] = ['jobs:write', 'builds:trigger', 'tickets:post'];

function loadAssets(root: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(root)) return assets;
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        walk(path);
        continue;
      }
      const body = readFileSync(path);
      const type = TYPES[extname(name)] ?? 'application/octet-stream';
      const compressible = /^(text\/|application\/json|image\/svg)/.test(type) && body.length > 512;
      assets.set(relative(root, path).split(sep).join('/'), {
        body,
        gzip: compressible ? gzipSync(body, { level: 9 }) : null,
        type,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        immutable: HASHED.test(name),
      });
    }
  };
  walk(root);
  return assets;
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  void reply
    .headers(SECURITY_HEADERS)
    .header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .header('etag', asset.etag)
    .header('vary', 'accept-encoding')
    .type(asset.type);
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  if (asset.gzip && /\bgzip\b/.test(request.headers['accept-encoding'] ?? '')) {
    return reply.header('content-encoding', 'gzip').send(asset.gzip);
  }
  return reply.send(asset.body);
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>distci</title>
<p>The web UI is not built. Run <code>npm run build</code> (or <code>npm run build:web</code>) and restart the frontend.
The API is at <a href="/api/v1/openapi.json">/api/v1</a>.</p>`;

export const uiRoutes: FastifyPluginAsyncTypebox<UiRoutesOptions> = async (app, { auth, webRoot = DEFAULT_WEB_ROOT }) => {
  const assets = loadAssets(webRoot);

  app.get('/', { config: { permission: 'public' }, schema: { hide: true } }, async (request, reply) => {
    const index = assets.get('index.html');
    if (!index) return reply.code(503).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
    return send(request, reply, index);
  });

  app.get('/ui/*', { config: { permission: 'public' }, schema: { hide: true } }, async (request, reply) => {
    const path = (request.params as { '*': string })['*'];
    const asset = path === 'index.html' ? undefined : assets.get(path);
    if (!asset) return reply.code(404).type('text/plain; charset=utf-8').send(`no UI file ${path}`);
    return send(request, reply, asset);
  });

  app.get(
    '/api/v1/session',
    {
      // About the caller only: open to a job-scoped token too.
      config: { permission: 'read', jobScope: 'filters' },
      schema: {
        summary: 'Who the caller is and what their role may do (the UI hides what would be refused)',
        tags: ['session'],
        response: {
          200: Type.Object({
            name: Type.String(),
            role: Type.String(),
            authEnabled: Type.Boolean(),
            jobs: Type.Union([Type.String(), Type.Null()], { description: 'the job pattern the token is limited to, or null' }),
            can: Type.Record(Type.String(), Type.Boolean()),
          }),
        },
      },
    },
    async (request) => {
      const identity: Identity = request.identity ?? { name: 'anonymous', role: 'admin' };
      const can: Record<string, boolean> = {};
      for (const permission of MUTATING) {
        try {
          auth.authorize(request.headers.authorization, permission);
          can[permission] = true;
        } catch {
          can[permission] = false;
        }
      }
      return { name: identity.name, role: identity.role, authEnabled: auth.enabled, jobs: identity.jobs ?? null, can };
    },
  );
};
