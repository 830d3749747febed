import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Coordinator } from '../../coordination/contract.js';
import type { Store } from '../../storage/contract.js';
import { UnavailableError } from '../../core/errors.js';
import { toDistciError } from '../errors.js';

const READY_TIMEOUT_MS = 1500;

export const healthRoutes: FastifyPluginAsyncTypebox<{ coordinator: Coordinator; store: Store }> = async (app, { coordinator, store }) => {
  app.get(
    '/healthz',
    {
      config: { permission: 'public' },
      schema: { summary: 'The process is alive', tags: ['health'], response: { 200: Type.Object({ status: Type.Literal('ok') }) } },
    },
    async () => ({ status: 'ok' as const }),
  );

  const Check = Type.Object({ ok: Type.Boolean(), backend: Type.String(), error: Type.Optional(Type.String()) });
  const Readiness = Type.Object({ ready: Type.Boolean(), coordinator: Check, store: Check });
  const check = async (backend: string, probe: () => Promise<void>) => {
    try {
      // A lost ZooKeeper session or a hung gateway must make us "not ready" quickly.
      let timer: NodeJS.Timeout | undefined;
      const slow = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new UnavailableError(`${backend} did not answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      });
      await Promise.race([probe(), slow]).finally(() => clearTimeout(timer));
      return { ok: true, backend };
    } catch (err) {
      return { ok: false, backend, error: toDistciError(err).message };
    }
  };
  app.get(
    '/readyz',
    {
      config: { permission: 'public' },
      schema: { summary: 'Ready to serve: the coordinator and the store answer', tags: ['health'], response: { 200: Readiness, 503: Readiness } },
    },
    async (_request, reply) => {
      const [c, s] = await Promise.all([check(coordinator.backend, () => coordinator.ready()), check(store.backend, () => store.ready())]);
      const ready = c.ok && s.ok;
      return reply.code(ready ? 200 : 503).send({ ready, coordinator: c, store: s });
    },
  );
};
