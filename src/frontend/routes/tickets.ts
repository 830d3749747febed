import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import type { Claim, Coordinator } from '../../coordination/contract.js';
import type { Lease } from '../../core/ticket.js';
import type { ClaimDispatcher } from '../claim-dispatcher.js';
import type { FrontendMetrics } from '../metrics.js';
import {
  ClaimBody,
  ClaimResponse,
  CompleteBody,
  ErrorSchema,
  IdParams,
  LeaseSchema,
  ListTicketsQuery,
  PostTicketBody,
  TicketListSchema,
  TicketSchema,
  TokenBody,
} from '../schemas.js';

export interface TicketRoutesOptions {
  coordinator: Coordinator;
  dispatcher: ClaimDispatcher;
  metrics: FrontendMetrics;
  leaseTtlMs: number;
  maxWaitMs: number;
}

/** What a renewal answers, alone (`POST /tickets/{id}/renew`) or in a batch (`POST /tickets/renew`). */
export function renewAnswer(claim: Claim, ttlMs: number): { lease: Lease; ttlMs: number; cancelRequested: boolean } {
  return {
    lease: claim.ticket.lease ?? { holder: '', token: claim.token, expiresAt: claim.expiresAt },
    ttlMs,
    cancelRequested: claim.ticket.cancelRequested,
  };
}

const errors = { 400: Type.Ref(ErrorSchema), 404: Type.Ref(ErrorSchema), 409: Type.Ref(ErrorSchema) };
const NEVER = new AbortController().signal;

export const ticketRoutes: FastifyPluginAsyncTypebox<TicketRoutesOptions> = async (app, opts) => {
  const { coordinator, dispatcher, metrics, leaseTtlMs, maxWaitMs } = opts;

  app.post(
    '/tickets',
    {
      config: { permission: 'tickets:post' },
      schema: {
        summary: 'Post a ticket (201), or get the one an earlier post with the same idempotency key made (200)',
        tags: ['tickets'],
        body: PostTicketBody,
        response: { 200: Type.Ref(TicketSchema), 201: Type.Ref(TicketSchema), ...errors },
      },
    },
    async (request, reply) => {
      const { ticket, created } = await coordinator.post(request.body);
      return reply.code(created ? 201 : 200).send(ticket);
    },
  );

  app.get(
    '/tickets',
    {
      config: { permission: 'read' },
      schema: {
        summary: 'List tickets, oldest first, with optional filters',
        tags: ['tickets'],
        querystring: ListTicketsQuery,
        response: { 200: TicketListSchema, 400: Type.Ref(ErrorSchema) },
      },
    },
    async (request) => {
      const limit = Number(request.query.limit ?? 100);
      const tickets = await coordinator.list({ ...request.query, limit });
      return { tickets, next: tickets.length === limit ? (tickets.at(-1)?.id ?? null) : null };
    },
  );

  app.get(
    '/tickets/:id',
    {
      config: { permission: 'read' },
      schema: { summary: 'Show one ticket', tags: ['tickets'], params: IdParams, response: { 200: Type.Ref(TicketSchema), ...errors } },
    },
    async (request) => coordinator.get(request.params.id),
  );

  app.post(
    '/tickets/claim',
    {
      config: { permission: 'tickets:lease' },
      schema: {
        summary: 'Long-poll for a ticket this worker can serve: 200 with a lease, or 204 when waitMs passes',
        tags: ['leases'],
        body: ClaimBody,
        response: { 200: ClaimResponse, 204: Type.Null(), 400: Type.Ref(ErrorSchema) },
      },
    },
    async (request, reply) => {
      const { waitMs = 0, labels = [], max, workerId, kinds, claimId } = request.body;
      const wait = Math.min(waitMs, maxWaitMs);
      // Only a long poll needs to know that its client left (abort() is not free).
      let gone = NEVER;
      if (wait > 0) {
        const left = new AbortController();
        reply.raw.once('close', () => {
          if (!reply.raw.writableFinished) left.abort();
        });
        gone = left.signal;
      }
      const started = performance.now();
      const req = claimId === undefined ? { workerId, kinds, labels, ttlMs: leaseTtlMs } : { workerId, kinds, labels, ttlMs: leaseTtlMs, claimId };
      const claims = await dispatcher.claim(req, wait, gone, max ?? 1);
      metrics.claims.inc({ outcome: claims.length > 0 ? 'leased' : 'empty' });
      if (claims.length === 0) return reply.code(204).send(null);
      metrics.claimWait.observe((performance.now() - started) / 1000);
      const now = Date.now();
      for (const { ticket } of claims) {
        if (ticket.attempt === 1) metrics.dispatchLatency.observe(Math.max(0, now - ticket.createdAt) / 1000);
        else metrics.reclaims.inc();
      }
      // Serialised here: the response schema (a union holding Type.Unknown payloads) makes the
      // generic serializer try each branch with ajv, which cost more than the claim's commit;
      // and a backend that has the ticket's JSON text at hand saves encoding it again.
      const grants = claims.map(
        (claim) =>
          `{"ticket":${claim.ticketJson ?? JSON.stringify(claim.ticket)},` +
          `"lease":{"token":${claim.token},"expiresAt":${claim.expiresAt},"ttlMs":${leaseTtlMs}}}`,
      );
      return (reply as FastifyReply).type('application/json; charset=utf-8').send(max === undefined ? grants[0] : `{"grants":[${grants.join(',')}]}`);
    },
  );

  app.post(
    '/tickets/:id/renew',
    {
      config: { permission: 'tickets:lease' },
      schema: {
        summary: 'Extend a lease; 409 lease_lost when the token is stale',
        tags: ['leases'],
        params: IdParams,
        body: TokenBody,
        response: { 200: Type.Object({ lease: LeaseSchema, ttlMs: Type.Integer(), cancelRequested: Type.Boolean() }), ...errors },
      },
    },
    async (request) => renewAnswer(await coordinator.renew(request.params.id, request.body.token, leaseTtlMs), leaseTtlMs),
  );

  app.post(
    '/tickets/:id/complete',
    {
      config: { permission: 'tickets:lease' },
      schema: {
        summary: 'Record the result and end the ticket; repeating it with the same token is harmless',
        tags: ['leases'],
        params: IdParams,
        body: CompleteBody,
        response: { 200: Type.Ref(TicketSchema), ...errors },
      },
    },
    async (request) => coordinator.complete(request.params.id, request.body.token, request.body.result),
  );

  app.post(
    '/tickets/:id/cancel',
    {
      config: { permission: 'tickets:post' },
      schema: {
        summary: 'Cancel: a pending ticket ends as cancelled; a leased one is flagged and its worker stops at its next renewal',
        tags: ['tickets'],
        params: IdParams,
        response: { 200: Type.Ref(TicketSchema), ...errors },
      },
    },
    async (request) => coordinator.cancel(request.params.id),
  );

  app.post(
    '/tickets/:id/release',
    {
      config: { permission: 'tickets:lease' },
      schema: {
        summary: 'Give the ticket back to the queue (for example on shutdown)',
        tags: ['leases'],
        params: IdParams,
        body: TokenBody,
        response: { 200: Type.Ref(TicketSchema), ...errors },
      },
    },
    async (request) => coordinator.release(request.params.id, request.body.token),
  );
};
