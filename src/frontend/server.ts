import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Coordinator } from '../coordination/contract.js';
import type { Store } from '../storage/contract.js';
import type { Keyring } from '../core/crypto/keyring.js';
import { SecretStore, type SecretsProvider } from './services/secrets.js';
import { TicketPurger } from './services/ticket-purge.js';
import { DEFAULTS } from '../config/settings.js';
import { AuditLog } from './services/audit.js';
import { auditRoutes } from './routes/audit.js';
import { secretRoutes } from './routes/secrets.js';
import { buildRoutes } from './routes/builds.js';
import { jobRoutes } from './routes/jobs.js';
import { webhookRoutes } from './routes/webhooks.js';
import { WebhookService } from './services/webhooks.js';
import { stepIoRoutes } from './routes/step-io.js';
import { BuildService } from './services/builds.js';
import { CronScheduler } from './services/cron.js';
import { JobService } from './services/jobs.js';
import { DistciError } from '../core/errors.js';
import { Authenticator, requireJobScope, type Identity, type Permission, type TokenConfig } from './auth.js';
import { installFastAsyncResourceBind } from './async-bind.js';
import { ClaimDispatcher } from './claim-dispatcher.js';
import { sendError } from './errors.js';
import { FrontendMetrics, instrument } from './metrics.js';
import { healthRoutes } from './routes/health.js';
import { queueRoutes, watchClaims, WorkerSightings } from './routes/queue.js';
import { uiRoutes } from './routes/ui.js';
import { renewalRoutes } from './routes/renewals.js';
import { ticketRoutes } from './routes/tickets.js';
import { ErrorSchema, TicketSchema } from './schemas.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    permission?: Permission;
    /** Set by a route without a `:job` parameter that filters what it returns by the caller's job pattern. */
    jobScope?: 'filters';
  }
  interface FastifyRequest {
    identity?: Identity;
    /** `performance.now()` when the request arrived: its reads pass it as `ReadFreshness.since`. */
    arrivedAt: number;
  }
}

export interface FrontendOptions {
  coordinator: Coordinator;
  store: Store;
  /** Configured secrets (read only), behind the sealed ones in the coordinator. */
  secrets: SecretsProvider;
  /** Keys sealing stored secrets (the first seals, all open); without them secrets cannot be set. */
  secretsKeyring?: Keyring | null;
  /** Names this frontend in audit entries (default host/pid/random). */
  frontendId?: string;
  /** Largest workspace or artifact upload. */
  maxUploadBytes: number;
  log: Logger;
  tokens: readonly TokenConfig[];
  leaseTtlMs: number;
  maxWaitMs: number;
  sweepMs: number;
  /** How long done tickets stay in the coordinator (default 24 h). */
  ticketRetentionMs?: number;
  bodyLimit: number;
  /** How often this frontend looks for due cron ticks (0: never). */
  cronIntervalMs?: number;
  now?: () => number;
  /** Where webhook secrets are read from (the `secretEnv` of each job); default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface Frontend {
  cron: CronScheduler;
  app: FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;
  dispatcher: ClaimDispatcher;
  close(): Promise<void>;
}

/** Builds the HTTP frontend. It holds no state of its own: any number may run side by side. */
export async function buildFrontend(options: FrontendOptions): Promise<Frontend> {
  const auth = new Authenticator(options.tokens);
  installFastAsyncResourceBind();
  const app = Fastify({
    loggerInstance: options.log as FastifyBaseLogger,
    disableRequestLogging: true,
    bodyLimit: options.bodyLimit,
    // Long polls hold requests open; keep-alive must outlast the longest wait.
    keepAliveTimeout: options.maxWaitMs + 10_000,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Everything below talks to the backends through these, so every call is measured.
  const metrics: FrontendMetrics = new FrontendMetrics(() => dispatcher.parked, options.coordinator);
  const coordinator: Coordinator = instrument(options.coordinator, 'coordinator', metrics.backendCalls);
  const store: Store = instrument(options.store, 'store', metrics.backendCalls);
  const dispatcher: ClaimDispatcher = new ClaimDispatcher(coordinator, {
    sweepMs: options.sweepMs,
    log: options.log,
    onExpired: (n) => metrics.leaseExpiries.inc(n),
    onRound: (seconds) => metrics.claimRounds.observe(seconds),
  });

  // JSON only (job configs add YAML); a text/plain body would otherwise reach validation as a string.
  app.removeContentTypeParser('text/plain');
  // Workspaces and artifacts stream through to the store; routes limit their size.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
  app.addSchema(ErrorSchema);
  app.addSchema(TicketSchema);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'distci API',
        version: '1',
        description: 'Tickets, leases and (later) jobs and builds. Errors are {"error": {"code", "message"}}.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.decorateRequest('arrivedAt', 0);
  app.addHook('onRequest', async (request) => {
    request.arrivedAt = performance.now();
    const permission = request.routeOptions.config.permission;
    if (permission === undefined) return; // unknown route: the 404 handler answers
    request.identity = auth.authorize(request.headers.authorization, permission);
    requireJobScope(request.identity, (request.params as { job?: unknown } | undefined)?.job, request.routeOptions.config.jobScope === 'filters');
  });
  app.setErrorHandler((err, request, reply) => {
    const code = (err as { code?: string }).code;
    if (code === 'lease_lost') metrics.leaseErrors.inc({ operation: request.url.split('/').at(-1) ?? '' });
    return sendError(request, reply, err);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, new DistciError('route_not_found', `no route ${request.method} ${request.url.split('?')[0]}; see /api/v1/openapi.json`)),
  );

  const jobs = new JobService(coordinator, store, options.now);
  const builds = new BuildService(coordinator, jobs, store, (status) => metrics.buildsFinished.inc({ status }));
  const audit = new AuditLog(coordinator, options.frontendId ?? `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`, options.now);
  const secrets = new SecretStore(coordinator, options.secretsKeyring ?? null, options.secrets, options.log, options.now);
  const cron = new CronScheduler(coordinator, builds, {
    intervalMs: options.cronIntervalMs ?? 1000,
    log: options.log,
    ...(options.now ? { now: options.now } : {}),
  });
  await app.register(healthRoutes, { coordinator: coordinator, store: store });
  app.get('/metrics', { config: { permission: 'public' }, schema: { hide: true } }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  await app.register(uiRoutes, { auth });
  const sightings = new WorkerSightings();
  await app.register(
    async (api) => {
      watchClaims(api, sightings);
      await api.register(ticketRoutes, {
        coordinator: coordinator,
        dispatcher,
        metrics,
        leaseTtlMs: options.leaseTtlMs,
        maxWaitMs: options.maxWaitMs,
      });
      await api.register(renewalRoutes, { coordinator, metrics, leaseTtlMs: options.leaseTtlMs });
      await api.register(queueRoutes, { coordinator: coordinator, dispatcher, sightings, leaseTtlMs: options.leaseTtlMs });
      await api.register(jobRoutes, { jobs, builds, audit });
      await api.register(webhookRoutes, { webhooks: new WebhookService(coordinator, jobs, builds, options.env ?? process.env, options.log) });
      await api.register(buildRoutes, { builds, store: store, followPollMs: 250, audit });
      await api.register(secretRoutes, { secrets, audit });
      await api.register(auditRoutes, { audit });
      await api.register(stepIoRoutes, {
        coordinator: coordinator,
        store: store,
        builds,
        secrets,
        maxUploadBytes: options.maxUploadBytes,
        maxConsoleChunkBytes: 256 * 1024,
      });
      api.get('/openapi.json', { config: { permission: 'public' }, schema: { hide: true } }, async () => app.swagger());
    },
    { prefix: '/api/v1' },
  );

  const purger = new TicketPurger(coordinator, {
    retentionMs: options.ticketRetentionMs ?? DEFAULTS.ticketRetentionMs,
    log: options.log,
    onPurged: (n) => metrics.ticketsPurged.inc(n),
  });

  await app.ready();
  dispatcher.start();
  purger.start();
  if ((options.cronIntervalMs ?? 1000) > 0) cron.start();
  return {
    app,
    dispatcher,
    cron,
    close: async () => {
      await cron.stop();
      await purger.stop();
      await dispatcher.stop();
      await app.close();
    },
  };
}
