import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Coordinator } from '../../coordination/contract.js';
import { toDistciError } from '../errors.js';

export const healthRoutes: FastifyPluginAsyncTypebox<{ coordinator: Coordinator }> = async (app, { coordinator }) => {
  app.get(
    '/healthz',
    {
      config: { permission: 'public' },
      schema: { summary: 'The process is alive', tags: ['health'], response: { 200: Type.Object({ status: Type.Literal('ok') }) } },
    },
    async () => ({ status: 'ok' as const }),
  );

  const Check = Type.Object({ ok: Type.Boolean(), backend: Type.String(), error: Type.Optional(Type.String()) });
  app.get(
    '/readyz',
    {
      config: { permission: 'public' },
      schema: {
        summary: 'Ready to serve: the coordinator (and store) answer',
        tags: ['health'],
        response: { 200: Type.Object({ ready: Type.Boolean(), coordinator: Check }), 503: Type.Object({ ready: Type.Boolean(), coordinator: Check }) },
      },
    },
    async (_request, reply) => {
      try {
        await coordinator.ready();
        return { ready: true, coordinator: { ok: true, backend: coordinator.backend } };
      } catch (err) {
        const error = toDistciError(err).message;
        return reply.code(503).send({ ready: false, coordinator: { ok: false, backend: coordinator.backend, error } });
      }
    },
  );
};
