import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ValidationError } from '../../core/errors.js';
import { allowsJob, type Identity } from '../auth.js';
import { ErrorSchema } from '../schemas.js';
import type { AuditLog } from '../services/audit.js';
import type { BuildService } from '../services/builds.js';
import type { JobRecord, JobService } from '../services/jobs.js';

export const JOB_NAME = '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$';
export const JobParams = Type.Object({ job: Type.String({ pattern: JOB_NAME }) });
const errors = { 400: Type.Ref(ErrorSchema), 404: Type.Ref(ErrorSchema), 409: Type.Ref(ErrorSchema) };

/** `If-Match: 3` or `If-Match: "3"` → 3. */
function ifMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*"?(\d{1,9})"?\s*$/.exec(header);
  if (!m) throw new ValidationError('If-Match must be the job version you based your change on, e.g. If-Match: 3 (0: the job must not exist yet)');
  return Number(m[1]);
}

/** A page of the jobs the caller may see: a token limited to a job pattern sees only its jobs. */
async function visibleJobs(jobs: JobService, identity: Identity | undefined, query: { after?: string; q?: string; since: number }, limit: number) {
  if (identity?.jobs === undefined) return jobs.list({ ...query, limit });
  const visible: JobRecord[] = [];
  for (let after = query.after; ; ) {
    const page = await jobs.list({ ...query, after, limit: 1000 });
    for (const job of page.jobs) {
      if (!allowsJob(identity, job.id)) continue;
      visible.push(job);
      if (visible.length === limit) return { jobs: visible, next: job.id };
    }
    if (page.next === null) return { jobs: visible, next: null };
    after = page.next;
  }
}

export const jobRoutes: FastifyPluginAsyncTypebox<{ jobs: JobService; builds: BuildService; audit: AuditLog }> = async (app, { jobs, builds, audit }) => {
  // Job configs keep the text people wrote, so bodies arrive unparsed (this plugin only).
  app.removeContentTypeParser('application/json');
  for (const type of ['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml']) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (_request, body, done) => done(null, body));
  }

  app.put(
    '/jobs/:job',
    {
      config: { permission: 'jobs:write' },
      schema: {
        summary: 'Create or update a job from YAML (application/yaml) or JSON; If-Match: VERSION for compare-and-set',
        tags: ['jobs'],
        params: JobParams,
        headers: Type.Object({ 'if-match': Type.Optional(Type.String()) }),
        response: { 200: Type.Unknown(), 201: Type.Unknown(), ...errors },
      },
    },
    async (request, reply) => {
      const format = /json/.test(request.headers['content-type'] ?? '') ? 'json' : 'yaml';
      if (typeof request.body !== 'string' || request.body.trim() === '') {
        throw new ValidationError('send the job config as the body: YAML (Content-Type: application/yaml) or JSON');
      }
      const { job, created } = await jobs.apply(request.params.job, request.body, format, ifMatch(request.headers['if-match']));
      await audit.record(request, { action: 'job.apply', job: job.id, details: { version: job.version, created } });
      return reply.code(created ? 201 : 200).header('etag', `"${job.version}"`).send(job);
    },
  );

  app.get(
    '/jobs',
    {
      config: { permission: 'read', jobScope: 'filters' },
      schema: {
        summary: 'List jobs by name with their last build; q searches names and descriptions',
        tags: ['jobs'],
        querystring: Type.Object(
          {
            after: Type.Optional(Type.String({ pattern: JOB_NAME })),
            limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]{0,2}|1000)$' })),
            q: Type.Optional(Type.String({ maxLength: 100 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Unknown(), 400: Type.Ref(ErrorSchema) },
      },
    },
    async (request) => {
      const { limit, ...query } = request.query;
      // The page, then each job's newest build: both rounds pass the request's arrival, so
      // they may share one barrier (see ReadFreshness).
      const since = request.arrivedAt;
      const page = await visibleJobs(jobs, request.identity, { ...query, since }, Number(limit ?? 100));
      const summaries = await Promise.all(
        page.jobs.map(async (job) => {
          const last = await builds.last(job.id, { since });
          return {
            id: job.id,
            version: job.version,
            description: job.config.description,
            steps: job.config.steps.length,
            updatedAt: job.updatedAt,
            lastBuild: last ? { number: last.number, status: last.status, createdAt: last.createdAt, finishedAt: last.finishedAt } : null,
          };
        }),
      );
      return { jobs: summaries, next: page.next };
    },
  );

  app.get(
    '/jobs/:job',
    {
      config: { permission: 'read' },
      schema: {
        summary: 'Show a job: its current config, or ?version=N with the text as applied',
        tags: ['jobs'],
        params: JobParams,
        querystring: Type.Object({ version: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,8}$' })) }, { additionalProperties: false }),
        response: { 200: Type.Unknown(), ...errors },
      },
    },
    async (request, reply) => {
      if (request.query.version) return jobs.version(request.params.job, Number(request.query.version));
      const job = await jobs.get(request.params.job);
      return reply.header('etag', `"${job.version}"`).send(job);
    },
  );

  app.delete(
    '/jobs/:job',
    {
      config: { permission: 'jobs:write' },
      schema: { summary: 'Delete a job (its builds stay readable)', tags: ['jobs'], params: JobParams, response: { 204: Type.Null(), ...errors } },
    },
    async (request, reply) => {
      await jobs.delete(request.params.job);
      await audit.record(request, { action: 'job.delete', job: request.params.job });
      return reply.code(204).send(null);
    },
  );
};
