import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { setTimeout as delay } from 'node:timers/promises';
import { artifactKey, buildPrefix, workspaceKey, type BuildRecord } from '../../core/builds/build.js';
import type { Store } from '../../storage/contract.js';
import { ErrorSchema } from '../schemas.js';
import type { AuditLog } from '../services/audit.js';
import type { BuildService } from '../services/builds.js';
import { renderText } from '../../core/builds/console-events.js';
import { ConsoleReader } from '../services/console.js';
import { assertRelativePath } from '../services/paths.js';
import { JOB_NAME } from './jobs.js';

const errors = { 400: Type.Ref(ErrorSchema), 404: Type.Ref(ErrorSchema), 409: Type.Ref(ErrorSchema) };
const BuildParams = Type.Object({ job: Type.String({ pattern: JOB_NAME }), n: Type.String({ pattern: '^(?:[1-9][0-9]{0,9}|lastSuccessful)$' }) });
const number = (n: string): number | 'lastSuccessful' => (n === 'lastSuccessful' ? n : Number(n));

export interface BuildRoutesOptions {
  builds: BuildService;
  store: Store;
  /** How often a live console tail looks for new output. */
  followPollMs: number;
  audit: AuditLog;
}

export const buildRoutes: FastifyPluginAsyncTypebox<BuildRoutesOptions> = async (app, { builds, store, followPollMs, audit }) => {
  app.post(
    '/jobs/:job/builds',
    {
      config: { permission: 'builds:trigger' },
      schema: {
        summary: 'Trigger a build → 201 with its number; a retry with the same idempotencyKey → 200 with the same build',
        tags: ['builds'],
        params: Type.Object({ job: Type.String({ pattern: JOB_NAME }) }),
        body: Type.Optional(
          Type.Object(
            {
              parameters: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' }), Type.String({ maxLength: 10_000 }))),
              idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
              cause: Type.Optional(
                Type.Union([
                  Type.Object({ kind: Type.Union([Type.Literal('api'), Type.Literal('cli'), Type.Literal('ui')]) }, { additionalProperties: false }),
                  Type.Object({ kind: Type.Literal('upstream'), job: Type.String({ pattern: JOB_NAME }), number: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
                ]),
              ),
            },
            { additionalProperties: false },
          ),
        ),
        response: { 200: Type.Unknown(), 201: Type.Unknown(), ...errors },
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const cause = body.cause ?? { kind: 'api' as const };
      const by = cause.kind === 'upstream' ? `${cause.job}#${cause.number}` : (request.identity?.name ?? 'anonymous');
      const { build, created } = await builds.trigger(request.params.job, {
        trigger: { kind: cause.kind, by },
        ...(body.parameters ? { parameters: body.parameters } : {}),
        ...(body.idempotencyKey ? { idempotencyKey: body.idempotencyKey } : {}),
      });
      // Once per build: a retried trigger (same idempotency key) is the same change.
      const details = { cause: cause.kind, ...(cause.kind === 'upstream' ? { upstream: by } : {}) };
      await audit.record(request, { action: 'build.trigger', job: build.job, build: build.number, details }, `build.trigger/${build.job}/${build.number}`);
      return reply.code(created ? 201 : 200).send(build);
    },
  );

  app.get(
    '/jobs/:job/builds',
    {
      config: { permission: 'read' },
      schema: {
        summary: 'List builds, newest first; `before` continues below a number',
        tags: ['builds'],
        params: Type.Object({ job: Type.String({ pattern: JOB_NAME }) }),
        querystring: Type.Object(
          {
            before: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,9}$' })),
            limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]{0,2}|1000)$' })),
            status: Type.Optional(Type.Literal('unfinished', { description: 'only builds not finished yet (all of them, one page)' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Unknown(), ...errors },
      },
    },
    async (request) => {
      if (request.query.status === 'unfinished') return { builds: (await builds.unfinished(request.params.job)).map(summary), next: null };
      const page = await builds.list(request.params.job, {
        since: request.arrivedAt,
        limit: Number(request.query.limit ?? 50),
        ...(request.query.before ? { before: Number(request.query.before) } : {}),
      });
      return { builds: page.builds.map(summary), next: page.next };
    },
  );

  app.get(
    '/jobs/:job/builds/:n',
    {
      config: { permission: 'read' },
      schema: { summary: 'Show a build: status, steps, attempts, timings, ticket ids', tags: ['builds'], params: BuildParams, response: { 200: Type.Unknown(), ...errors } },
    },
    async (request) => {
      const { build, version, archived } = await builds.live(request.params.job, number(request.params.n), { since: request.arrivedAt });
      return { ...build, version, archived };
    },
  );

  app.post(
    '/jobs/:job/builds/:n/archive',
    {
      config: { permission: 'tickets:lease' },
      schema: {
        summary: "Move a finished build's record from the coordinator to the store (build-control workers; idempotent)",
        tags: ['builds'],
        params: BuildParams,
        response: { 200: Type.Object({ archived: Type.Boolean() }), ...errors },
      },
    },
    async (request) => {
      const target = number(request.params.n);
      const { build } = await builds.get(request.params.job, target);
      await builds.archive(build.job, build.number);
      return { archived: true };
    },
  );

  app.post(
    '/jobs/:job/builds/:n/cancel',
    {
      config: { permission: 'builds:trigger' },
      schema: { summary: 'Cancel a build: pending steps never start, running steps are stopped', tags: ['builds'], params: BuildParams, response: { 200: Type.Unknown(), ...errors } },
    },
    async (request) => {
      const { build } = await builds.get(request.params.job, number(request.params.n));
      const cancelled = await builds.cancel(build.job, build.number);
      await audit.record(request, { action: 'build.cancel', job: build.job, build: build.number, details: { status: build.status } }, `build.cancel/${build.job}/${build.number}`);
      return cancelled;
    },
  );

  app.put(
    '/jobs/:job/builds/:n/state',
    {
      config: { permission: 'tickets:lease' },
      schema: {
        summary: "The build-control worker's compare-and-set write of a build, fenced by its lease",
        tags: ['builds'],
        params: BuildParams,
        body: Type.Object(
          { ticketId: Type.String({ minLength: 1, maxLength: 64 }), token: Type.Integer({ minimum: 1 }), expectedVersion: Type.Integer({ minimum: 1 }), build: Type.Object({}, { additionalProperties: true }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ version: Type.Integer() }), ...errors },
      },
    },
    async (request) => {
      const { ticketId, token, expectedVersion, build } = request.body;
      const n = Number(request.params.n);
      const version = await builds.writeState(request.params.job, n, expectedVersion, build as unknown as BuildRecord, { ticketId, token });
      return { version };
    },
  );

  app.get(
    '/jobs/:job/builds/:n/console',
    {
      config: { permission: 'read' },
      schema: {
        summary: 'The whole console as text; ?follow=1 streams it live as Server-Sent Events until the build ends',
        tags: ['builds'],
        params: BuildParams,
        querystring: Type.Object({ follow: Type.Optional(Type.Union([Type.Literal('1'), Type.Literal('true')])) }, { additionalProperties: false }),
        response: { 200: Type.String(), ...errors },
      },
    },
    async (request, reply) => {
      const { build } = await builds.live(request.params.job, number(request.params.n));
      const reader = new ConsoleReader(store, build.job, build.number);
      if (!request.query.follow) {
        const state = {};
        const text = (await reader.poll(build)).map((e) => renderText(e, state)).join('');
        return reply.type('text/plain; charset=utf-8').send(text);
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      const gone = new AbortController();
      res.once('close', () => gone.abort());
      let current: BuildRecord = build;
      let id = 0;
      while (!gone.signal.aborted) {
        const events = await reader.poll(current);
        for (const event of events) res.write(`id: ${++id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
        if (events.some((e) => e.type === 'end')) break;
        if (events.length === 0) res.write(': waiting\n\n');
        await delay(followPollMs, undefined, { signal: gone.signal }).catch(() => undefined);
        current = (await builds.live(build.job, build.number)).build;
      }
      res.end();
    },
  );

  app.get(
    '/jobs/:job/builds/:n/artifacts',
    {
      config: { permission: 'read' },
      schema: { summary: 'List the artifacts of a build', tags: ['artifacts'], params: BuildParams, response: { 200: Type.Unknown(), ...errors } },
    },
    async (request) => {
      const { build } = await builds.get(request.params.job, number(request.params.n));
      const prefix = `${buildPrefix(build.job, build.number)}artifacts/`;
      const artifacts: { path: string; size: number }[] = [];
      for (let after: string | undefined; ; ) {
        const page = await store.list(prefix, { limit: 1000, ...(after ? { after } : {}) });
        artifacts.push(...page.keys.map((k) => ({ path: k.key.slice(prefix.length), size: k.size })));
        if (!page.next) break;
        after = page.next;
      }
      return { number: build.number, artifacts };
    },
  );

  app.get(
    '/jobs/:job/builds/:n/artifacts/*',
    {
      config: { permission: 'read' },
      schema: { summary: 'Download an artifact', tags: ['artifacts'], params: Type.Object({ ...BuildParams.properties, '*': Type.String({ minLength: 1 }) }) },
    },
    async (request, reply) => {
      const path = request.params['*'];
      assertRelativePath('artifact path', path);
      const { build } = await builds.get(request.params.job, number(request.params.n));
      const object = await store.get(artifactKey(build.job, build.number, path));
      const name = path.split('/').at(-1) ?? 'artifact';
      return reply
        .type('application/octet-stream')
        .header('content-length', object.size)
        .header('content-disposition', `attachment; filename="${name.replace(/["\\]/g, '_')}"`)
        .send(object.body);
    },
  );

  app.get(
    '/jobs/:job/builds/:n/workspaces/:step/:attempt',
    {
      config: { permission: 'read' },
      schema: {
        summary: 'Download the workspace (tar) a step attempt produced',
        tags: ['steps'],
        params: Type.Object({ ...BuildParams.properties, step: Type.String({ minLength: 1, maxLength: 300 }), attempt: Type.String({ pattern: '^[1-9][0-9]{0,3}$' }) }),
      },
    },
    async (request, reply) => {
      const { job, n, step, attempt } = request.params;
      const object = await store.get(workspaceKey(job, Number(n), step, Number(attempt)));
      return reply.type('application/x-tar').header('content-length', object.size).send(object.body);
    },
  );
};

/** A build without its plan, for lists. */
function summary(build: BuildRecord) {
  const { plan, ...rest } = build;
  return rest;
}
