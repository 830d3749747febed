import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { createHash } from 'node:crypto';
import { DistciError } from '../../core/errors.js';
import { githubEvent, gitlabEvent, type ForgeEvent } from '../../core/webhooks/forge-events.js';
import { validHmacSignature, validToken } from '../../core/webhooks/signatures.js';
import { ErrorSchema } from '../schemas.js';
import type { WebhookService } from '../services/webhooks.js';

/** GitHub sends up to 25 MB. */
const WEBHOOK_BODY_LIMIT = 25 * 1024 * 1024;
const Outcome = Type.Object({ triggered: Type.Array(Type.String()), skipped: Type.Array(Type.String()), ignored: Type.Optional(Type.String()) });
const responses = { 200: Outcome, 202: Outcome, 400: Type.Ref(ErrorSchema), 401: Type.Ref(ErrorSchema) };

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function parse(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new DistciError('malformed_json', 'the webhook body is not valid JSON');
  }
}

const deliveryId = (given: string | undefined, body: Buffer): string =>
  given && /^[A-Za-z0-9-]{1,100}$/.test(given) ? given : `body-${createHash('sha256').update(body).digest('hex').slice(0, 32)}`;

/** Forge webhooks: signature-checked, deduplicated by delivery id; no bearer token needed. */
export const webhookRoutes: FastifyPluginAsyncTypebox<{ webhooks: WebhookService }> = async (app, { webhooks }) => {
  // The signature covers the exact bytes sent: keep them (this plugin only).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, (_r, body, done) => done(null, body));
  const ignored = (reason: string) => ({ triggered: [], skipped: [], ignored: reason });

  app.post(
    '/webhooks/github',
    {
      config: { permission: 'public' },
      bodyLimit: WEBHOOK_BODY_LIMIT,
      schema: { summary: 'GitHub push and pull_request events (X-Hub-Signature-256 checked)', tags: ['webhooks'], response: responses },
    },
    async (request, reply) => {
      const body = request.body as Buffer;
      const signature = header(request.headers['x-hub-signature-256']);
      if (!signature) throw new DistciError('unauthorized', 'missing X-Hub-Signature-256: set a secret on the GitHub webhook');
      const name = header(request.headers['x-github-event']) ?? '';
      const payload = parse(body);
      if (name === 'ping') return reply.code(200).send(ignored('ping'));
      const event = githubEvent(name, payload);
      if (!event) return reply.code(202).send(ignored(`event '${name}' builds nothing`));
      return reply.code(202).send(await deliver('github', header(request.headers['x-github-delivery']), body, event, (s) => validHmacSignature(signature, s, body)));
    },
  );

  app.post(
    '/webhooks/gitlab',
    {
      config: { permission: 'public' },
      bodyLimit: WEBHOOK_BODY_LIMIT,
      schema: { summary: 'GitLab Push Hook and Merge Request Hook events (X-Gitlab-Token checked)', tags: ['webhooks'], response: responses },
    },
    async (request, reply) => {
      const body = request.body as Buffer;
      const token = header(request.headers['x-gitlab-token']);
      if (!token) throw new DistciError('unauthorized', 'missing X-Gitlab-Token: set a secret token on the GitLab webhook');
      const name = header(request.headers['x-gitlab-event']) ?? '';
      const event = gitlabEvent(name, parse(body));
      if (!event) return reply.code(202).send(ignored(`event '${name}' builds nothing`));
      const id = header(request.headers['x-gitlab-event-uuid']) ?? header(request.headers['x-gitlab-webhook-uuid']);
      return reply.code(202).send(await deliver('gitlab', id, body, event, (s) => validToken(token, s)));
    },
  );

  app.post(
    '/webhooks/generic',
    {
      config: { permission: 'public' },
      schema: {
        summary: 'A signed webhook for any sender: {repository, branch, commit}, X-Distci-Signature-256 = sha256=HMAC(secret, body), X-Distci-Delivery',
        tags: ['webhooks'],
        response: responses,
      },
    },
    async (request, reply) => {
      const body = request.body as Buffer;
      const signature = header(request.headers['x-distci-signature-256']);
      if (!signature) throw new DistciError('unauthorized', 'missing X-Distci-Signature-256: sign the body with HMAC-SHA256 and the job secret');
      const p = parse(body) as { repository?: unknown; branch?: unknown; commit?: unknown };
      if (typeof p.repository !== 'string' || typeof p.branch !== 'string' || typeof p.commit !== 'string' || !/^[0-9a-f]{7,64}$/i.test(p.commit)) {
        throw new DistciError('invalid_request', 'the generic webhook body is {"repository": URL, "branch": NAME, "commit": SHA}');
      }
      const event: ForgeEvent = { kind: 'push', repositories: [p.repository], branch: p.branch, commit: p.commit };
      return reply.code(202).send(await deliver('generic', header(request.headers['x-distci-delivery']), body, event, (s) => validHmacSignature(signature, s, body)));
    },
  );

  function deliver(forge: 'github' | 'gitlab' | 'generic', id: string | undefined, body: Buffer, event: ForgeEvent, verify: (secret: string) => boolean) {
    return webhooks.deliver({ forge, id: deliveryId(id, body), event, verify });
  }
};
