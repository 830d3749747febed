import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Coordinator, QueueStat } from '../coordination/contract.js';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Prometheus metrics of one frontend; a registry per instance so tests can run several.
 * Counters count what this frontend saw: sum them over frontends in queries.
 */
export class FrontendMetrics {
  readonly registry = new Registry();
  readonly claims: Counter<'outcome'>;
  readonly claimWait: Histogram;
  readonly dispatchLatency: Histogram;
  readonly claimRounds: Histogram;
  readonly reclaims: Counter;
  readonly leaseExpiries: Counter;
  readonly ticketsPurged: Counter;
  readonly leaseErrors: Counter<'operation'>;
  readonly buildsFinished: Counter<'status'>;
  readonly backendCalls: Histogram<'backend' | 'operation' | 'outcome'>;

  constructor(parked: () => number, coordinator: Coordinator) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'distci_process_' });
    new Gauge({
      name: 'distci_claims_parked',
      help: 'Claim long polls waiting on this frontend',
      registers,
      collect() {
        this.set(parked());
      },
    });
    // One cheap coordinator call per scrape feeds both queue gauges.
    let cached: { at: number; stats: Promise<QueueStat[]> } | null = null;
    const queueStats = (): Promise<QueueStat[]> => {
      if (!cached || Date.now() - cached.at > 1000) cached = { at: Date.now(), stats: coordinator.queueStats().catch(() => []) };
      return cached.stats;
    };
    const key = (q: QueueStat) => ({ kind: q.kind, labels: q.labels.join(',') });
    if (coordinator.backendRequests) {
      const requests = coordinator.backendRequests.bind(coordinator);
      new Counter({
        name: 'distci_coordinator_requests_total',
        help: 'Requests this frontend sent to the coordinator service (ZooKeeper), by connection and kind; multi.ops and multiRead.reads count what the batches carried',
        labelNames: ['connection', 'request'],
        registers,
        collect() {
          this.reset();
          for (const r of requests()) this.inc({ connection: r.connection, request: r.request }, r.count);
        },
      });
    }
    new Gauge({
      name: 'distci_queue_pending',
      help: 'Pending tickets per kind and label set',
      labelNames: ['kind', 'labels'],
      registers,
      async collect() {
        const stats = await queueStats();
        this.reset();
        for (const q of stats) this.set(key(q), q.pending);
      },
    });
    new Gauge({
      name: 'distci_queue_oldest_age_seconds',
      help: 'Age of the oldest pending ticket per kind and label set',
      labelNames: ['kind', 'labels'],
      registers,
      async collect() {
        const stats = await queueStats();
        this.reset();
        const now = Date.now();
        for (const q of stats) if (q.oldestCreatedAt !== null) this.set(key(q), Math.max(0, (now - q.oldestCreatedAt) / 1000));
      },
    });
    this.claims = new Counter({ name: 'distci_claims_total', help: 'Claim requests answered, by outcome (leased or empty)', labelNames: ['outcome'], registers });
    this.claimWait = new Histogram({ name: 'distci_claim_wait_seconds', help: 'Time a granted claim waited on this frontend', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30], registers });
    this.claimRounds = new Histogram({
      name: 'distci_claim_round_seconds',
      help: 'Duration of the claim dispatcher\'s rounds (one at a time per frontend: a ticket posted during one waits for it to end)',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.dispatchLatency = new Histogram({
      name: 'distci_dispatch_latency_seconds',
      help: 'From a ticket being posted to its first claim',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.reclaims = new Counter({ name: 'distci_reclaims_total', help: 'Claims of tickets whose earlier lease was lost or released', registers });
    this.leaseExpiries = new Counter({ name: 'distci_lease_expiries_total', help: 'Leases this frontend found expired and returned or ended', registers });
    this.ticketsPurged = new Counter({ name: 'distci_tickets_purged_total', help: 'Done tickets this frontend removed from the coordinator after the retention', registers });
    this.leaseErrors = new Counter({
      name: 'distci_stale_lease_writes_total',
      help: 'Renew, complete or release refused because the lease token was stale',
      labelNames: ['operation'],
      registers,
    });
    this.buildsFinished = new Counter({ name: 'distci_builds_finished_total', help: 'Builds that reached a final status, by status', labelNames: ['status'], registers });
    this.backendCalls = new Histogram({
      name: 'distci_backend_call_seconds',
      help: 'Latency of coordinator and store calls made by this frontend',
      labelNames: ['backend', 'operation', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
  }
}

/**
 * Wraps every async method of a coordinator or store so its latency is observed, by
 * operation and outcome. The callers see the same object.
 */
export function instrument<T extends object>(target: T, backend: 'coordinator' | 'store', calls: FrontendMetrics['backendCalls']): T {
  return new Proxy(target, {
    get(obj, property, receiver) {
      const value = Reflect.get(obj, property, receiver) as unknown;
      if (typeof value !== 'function' || typeof property !== 'string' || property === 'onClaimable') return value;
      return (...args: unknown[]) => {
        const started = performance.now();
        const result = (value as (...a: unknown[]) => unknown).apply(obj, args);
        if (!(result instanceof Promise)) return result;
        return result.then(
          (v) => (calls.observe({ backend, operation: property, outcome: 'ok' }, (performance.now() - started) / 1000), v),
          (err: unknown) => {
            calls.observe({ backend, operation: property, outcome: 'error' }, (performance.now() - started) / 1000);
            throw err;
          },
        );
      };
    },
  });
}
