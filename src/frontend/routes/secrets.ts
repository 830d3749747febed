import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { DistciError } from '../../core/errors.js';
import { JOB_PATTERN } from '../auth.js';
import { ErrorSchema } from '../schemas.js';
import type { AuditLog } from '../services/audit.js';
import { SECRET_NAME, type SecretStore } from '../services/secrets.js';

export interface SecretRoutesOptions {
  secrets: SecretStore;
  audit: AuditLog;
}

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

/**
 * What the API shows of a secret. Responses are serialized by this schema, so a value or
 * ciphertext could not leave even if a handler returned one.
 */
const SecretInfoSchema = Type.Object(
  {
    name: Type.String(),
    source: Type.Union([Type.Literal('store'), Type.Literal('config')]),
    keyId: Nullable(Type.String()),
    jobs: Nullable(Type.String()),
    createdAt: Nullable(Type.Integer()),
    updatedAt: Nullable(Type.Integer()),
    updatedBy: Nullable(Type.String()),
  },
  { additionalProperties: false },
);
const NameParams = Type.Object({ name: Type.String({ pattern: SECRET_NAME }) });
const errors = { 400: Type.Ref(ErrorSchema), 403: Type.Ref(ErrorSchema), 404: Type.Ref(ErrorSchema), 409: Type.Ref(ErrorSchema) };

/** Secrets steps may name: set, list (names and metadata only), delete, re-seal. Admin only. */
export const secretRoutes: FastifyPluginAsyncTypebox<SecretRoutesOptions> = async (app, { secrets, audit }) => {
  // Bodies carry secret values: a malformed one is refused without repeating any of it.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string) as unknown);
    } catch {
      done(new DistciError('malformed_json', 'request body is not valid JSON (its text is not repeated: it may hold a secret); send {"value": "..."}'), undefined);
    }
  });

  app.get(
    '/secrets',
    {
      config: { permission: 'secrets' },
      schema: {
        summary: 'List secrets: names and metadata, never values',
        tags: ['secrets'],
        response: { 200: Type.Object({ secrets: Type.Array(SecretInfoSchema), keys: Type.Array(Type.String()) }), ...errors },
      },
    },
    async (_request, reply) => {
      void reply.header('cache-control', 'no-store');
      return { secrets: await secrets.list(), keys: secrets.keyIds };
    },
  );

  app.put(
    '/secrets/:name',
    {
      config: { permission: 'secrets' },
      schema: {
        summary: 'Create or replace a secret (stored sealed with AES-256-GCM); `jobs` limits it to jobs matching a glob',
        tags: ['secrets'],
        params: NameParams,
        body: Type.Object(
          {
            value: Type.String({ minLength: 1, maxLength: 65_536 }),
            jobs: Type.Optional(Nullable(Type.String({ pattern: JOB_PATTERN }))),
          },
          { additionalProperties: false },
        ),
        response: { 200: SecretInfoSchema, 201: SecretInfoSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { name } = request.params;
      const { secret, created } = await secrets.set(name, request.body.value, request.body.jobs ?? null, request.identity?.name ?? 'anonymous');
      await audit.record(request, { action: 'secret.set', secret: name, details: { created, keyId: secret.keyId, jobs: secret.jobs } });
      return reply.code(created ? 201 : 200).send(secret);
    },
  );

  app.delete(
    '/secrets/:name',
    {
      config: { permission: 'secrets' },
      schema: { summary: 'Delete a stored secret', tags: ['secrets'], params: NameParams, response: { 204: Type.Null(), ...errors } },
    },
    async (request, reply) => {
      await secrets.delete(request.params.name);
      await audit.record(request, { action: 'secret.delete', secret: request.params.name });
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/secrets/rotate',
    {
      config: { permission: 'secrets' },
      schema: {
        summary: "Re-seal every secret with this frontend's primary key, so older keys can be removed",
        tags: ['secrets'],
        response: {
          200: Type.Object({
            keyId: Type.String(),
            rotated: Type.Array(Type.String()),
            alreadyCurrent: Type.Integer(),
            unreadable: Type.Array(Type.Object({ name: Type.String(), keyId: Type.String(), reason: Type.String() })),
          }),
          ...errors,
        },
      },
    },
    async (request) => {
      const report = await secrets.rotate();
      await audit.record(request, { action: 'secrets.rotate', details: { keyId: report.keyId, rotated: report.rotated.length, unreadable: report.unreadable.length } });
      return report;
    },
  );
};
