import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Readable } from 'node:stream';
import type { Coordinator } from '../../coordination/contract.js';
import { artifactKey, consoleChunkKey, workspaceKey } from '../../core/builds/build.js';
import { COMMIT_STATUS_KIND, statusTokenSecret } from '../../core/builds/commit-status.js';
import type { StepPayload } from '../../core/builds/step-payload.js';
import type { Ticket } from '../../core/ticket.js';
import { ConflictError, DistciError, NotFoundError } from '../../core/errors.js';
import type { Store } from '../../storage/contract.js';
import { ErrorSchema, IdParams } from '../schemas.js';
import type { BuildService } from '../services/builds.js';
import type { SecretsProvider } from '../services/secrets.js';
import { parseToken, requireStepLease } from '../services/step-lease.js';
import { limitBytes } from '../services/upload-limit.js';
import { assertRelativePath } from '../services/paths.js';

export interface StepIoOptions {
  coordinator: Coordinator;
  store: Store;
  builds: BuildService;
  secrets: SecretsProvider;
  maxUploadBytes: number;
  maxConsoleChunkBytes: number;
}

const errors = { 400: Type.Ref(ErrorSchema), 404: Type.Ref(ErrorSchema), 409: Type.Ref(ErrorSchema), 413: Type.Ref(ErrorSchema) };

/** Writes a step worker makes under its lease: console chunks, workspace, artifacts; and its secrets. */
export const stepIoRoutes: FastifyPluginAsyncTypebox<StepIoOptions> = async (app, opts) => {
  const { coordinator, store, builds, secrets } = opts;

  app.post(
    '/tickets/:id/console',
    {
      config: { permission: 'tickets:lease' },
      schema: {
        summary: 'Append console chunk `seq` of the step attempt holding this lease (same seq again: no-op)',
        tags: ['steps'],
        params: IdParams,
        body: Type.Object(
          {
            token: Type.Integer({ minimum: 1 }),
            seq: Type.Integer({ minimum: 0, maximum: 99_999_999 }),
            text: Type.String({ maxLength: opts.maxConsoleChunkBytes }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ seq: Type.Integer(), duplicate: Type.Boolean() }), ...errors },
      },
    },
    async (request) => {
      const { token, seq, text } = request.body;
      const { payload, attempt } = await requireStepLease(coordinator, request.params.id, token);
      const key = consoleChunkKey(payload.job, payload.build, payload.step, attempt, seq);
      try {
        await store.put(key, text, { ifNoneMatch: true, contentType: 'text/plain; charset=utf-8' });
        return { seq, duplicate: false };
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        // A retried append whose first try landed: same text is fine, other text is a bug.
        if ((await store.getBuffer(key)).toString('utf8') === text) return { seq, duplicate: true };
        throw new ConflictError(`console chunk ${seq} of this attempt was already written with different text; use the next seq`, { seq });
      }
    },
  );

  app.get(
    '/tickets/:id/secrets',
    {
      config: { permission: 'tickets:lease' },
      schema: {
        summary: 'The secrets this step names, for the holder of its lease only (token in x-distci-token)',
        tags: ['steps'],
        params: IdParams,
        response: { 200: Type.Object({ secrets: Type.Record(Type.String(), Type.String()) }), ...errors },
      },
    },
    async (request, reply) => {
      const { ticket, payload } = await requireStepLease(coordinator, request.params.id, parseToken(request.headers['x-distci-token']));
      // The ticket's payload is the poster's word; the build's plan (from the job config) is ours.
      const allowed = await allowedSecrets(builds, ticket, payload);
      const asked = payload.secrets ?? [];
      const extra = asked.filter((name) => !allowed?.has(name));
      if (!allowed || extra.length > 0) {
        throw new DistciError('forbidden', `ticket ${ticket.id} is not a step of ${payload.job}#${payload.build} that may read ${extra.join(', ') || 'these secrets'}`);
      }
      void reply.header('cache-control', 'no-store');
      return { secrets: await secrets.resolve(asked, { job: payload.job }) };
    },
  );

  app.put(
    '/tickets/:id/workspace',
    {
      config: { permission: 'tickets:lease' },
      schema: {
        summary: 'Upload the workspace (tar) this step attempt produced',
        tags: ['steps'],
        params: IdParams,
        response: { 200: Type.Object({ key: Type.String(), size: Type.Integer() }), ...errors },
      },
    },
    async (request, reply) => {
      const { payload, attempt } = await requireStepLease(coordinator, request.params.id, parseToken(request.headers['x-distci-token']));
      const key = workspaceKey(payload.job, payload.build, payload.step, attempt);
      const body = limitBytes(request.body as Readable, opts.maxUploadBytes, 'the workspace');
      const put = await closeOnFailure(reply, store.put(key, body, { contentType: 'application/x-tar' }));
      return { key, size: put.size };
    },
  );

  app.put(
    '/tickets/:id/artifacts/*',
    {
      config: { permission: 'tickets:lease' },
      schema: {
        summary: 'Store an artifact of the build this step belongs to',
        tags: ['steps'],
        params: Type.Object({ id: IdParams.properties.id, '*': Type.String({ minLength: 1, maxLength: 900 }) }),
        response: { 200: Type.Object({ path: Type.String(), size: Type.Integer() }), ...errors },
      },
    },
    async (request, reply) => {
      const path = request.params['*'];
      assertRelativePath('artifact path', path);
      const { payload } = await requireStepLease(coordinator, request.params.id, parseToken(request.headers['x-distci-token']));
      const body = limitBytes(request.body as Readable, opts.maxUploadBytes, `artifact ${path}`);
      const put = await closeOnFailure(reply, store.put(artifactKey(payload.job, payload.build, path), body));
      return { path, size: put.size };
    },
  );
};

/**
 * What a ticket may ask for: a step ticket, the secrets the build's own plan gives the step;
 * the build's commit-status ticket, the token of its status config; any other ticket, none (null).
 */
async function allowedSecrets(builds: BuildService, ticket: Ticket, payload: StepPayload): Promise<Set<string> | null> {
  // Finished builds are archived: the final commit status reads its token after that.
  const found = await builds.get(payload.job, payload.build).catch((err: unknown) => {
    if (err instanceof NotFoundError) return null;
    throw err;
  });
  if (!found) return null;
  const { build } = found;
  if (ticket.idempotencyKey === `step/${payload.job}/${payload.build}/${payload.step}`) {
    const step = build.plan.find((p) => p.name === payload.step);
    return new Set(step?.secrets ?? []);
  }
  const token = ticket.kind === COMMIT_STATUS_KIND ? statusTokenSecret(build, ticket.idempotencyKey, (payload as { phase?: unknown }).phase) : null;
  return token ? new Set([token]) : null;
}

/**
 * An upload that fails half-way leaves the rest of its body unread on the connection: the
 * answer closes it, so the client's next request never waits behind that body.
 */
async function closeOnFailure<T>(reply: FastifyReply, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    void reply.header('connection', 'close');
    throw err;
  }
}
