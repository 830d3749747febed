/**
 * `POST /tickets/renew`: a worker renews every lease it holds in one request instead of
 * one request per lease. The renewals are started in the same turn, so a coordinator that
 * group-commits writes (ZooKeeper's multi-op batcher, SQLite's transaction per turn)
 * agrees on one transaction for many leases. Each lease gets its own answer: renewed, or the error it would have had
 * from `POST /tickets/{id}/renew` (`lease_lost` for a stale token, `unavailable` to retry).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Coordinator } from '../../coordination/contract.js';
import { MAX_RENEWALS } from '../../core/ticket.js';
import { toDistciError } from '../errors.js';
import type { FrontendMetrics } from '../metrics.js';
import { ErrorSchema, IdParams, LeaseSchema } from '../schemas.js';
import { renewAnswer } from './tickets.js';


const RenewManyBody = Type.Object(
  {
    leases: Type.Array(
      Type.Object({ id: IdParams.properties.id, token: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
      { minItems: 1, maxItems: MAX_RENEWALS },
    ),
  },
  { additionalProperties: false },
);

const Renewal = Type.Union([
  Type.Object({ id: Type.String(), ok: Type.Literal(true), lease: LeaseSchema, ttlMs: Type.Integer(), cancelRequested: Type.Boolean() }),
  Type.Object({ id: Type.String(), ok: Type.Literal(false), error: Type.Object({ code: Type.String(), message: Type.String() }) }),
]);

export const renewalRoutes: FastifyPluginAsyncTypebox<{ coordinator: Coordinator; metrics: FrontendMetrics; leaseTtlMs: number }> = async (
  app,
  { coordinator, metrics, leaseTtlMs },
) => {
  app.post(
    '/tickets/renew',
    {
      config: { permission: 'tickets:lease' },
      schema: {
        summary: `Extend up to ${MAX_RENEWALS} leases at once; each answer is the lease renewed or its own error (lease_lost when its token is stale)`,
        tags: ['leases'],
        body: RenewManyBody,
        response: { 200: Type.Object({ renewals: Type.Array(Renewal) }), 400: Type.Ref(ErrorSchema) },
      },
    },
    async (request) => {
      const outcomes = await Promise.allSettled(request.body.leases.map(({ id, token }) => coordinator.renew(id, token, leaseTtlMs)));
      const renewals = outcomes.map((outcome, i) => {
        const id = request.body.leases[i]!.id;
        if (outcome.status === 'rejected') {
          const err = toDistciError(outcome.reason);
          if (err.code === 'internal') request.log.error({ err: outcome.reason, ticketId: id }, 'renewal failed');
          // Counted like a refused single renewal (a 409 there).
          if (err.code === 'lease_lost') metrics.leaseErrors.inc({ operation: 'renew' });
          return { id, ok: false as const, error: { code: err.code, message: err.message } };
        }
        return { id, ok: true as const, ...renewAnswer(outcome.value, leaseTtlMs) };
      });
      return { renewals };
    },
  );
};
