import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ErrorSchema } from '../schemas.js';
import { AUDIT_ACTIONS, type AuditLog } from '../services/audit.js';
import { JOB_NAME } from './jobs.js';

/** The audit log, read only: who changed what, oldest first. Admin only. */
export const auditRoutes: FastifyPluginAsyncTypebox<{ audit: AuditLog }> = async (app, { audit }) => {
  app.get(
    '/audit',
    {
      config: { permission: 'audit' },
      schema: {
        summary: 'Audit entries oldest first, after a seq; filter by job, actor (token name) or action; `next` continues',
        tags: ['audit'],
        querystring: Type.Object(
          {
            after: Type.Optional(Type.String({ pattern: '^[0-9]{1,10}$' })),
            limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]{0,2}|1000)$' })),
            job: Type.Optional(Type.String({ pattern: JOB_NAME })),
            actor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            action: Type.Optional(Type.Union(AUDIT_ACTIONS.map((a) => Type.Literal(a)))),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ entries: Type.Array(Type.Unknown()), next: Type.Union([Type.Integer(), Type.Null()]) }), 400: Type.Ref(ErrorSchema), 403: Type.Ref(ErrorSchema) },
      },
    },
    async (request) => {
      const { after, limit, job, actor, action } = request.query;
      return audit.list({
        limit: Number(limit ?? 100),
        ...(after !== undefined ? { after: Number(after) } : {}),
        ...(job !== undefined ? { job } : {}),
        ...(actor !== undefined ? { actor } : {}),
        ...(action !== undefined ? { action } : {}),
      });
    },
  );
};
