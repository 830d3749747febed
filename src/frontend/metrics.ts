import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ClaimDispatcher } from './claim-dispatcher.js';

/** Prometheus metrics of one frontend; a registry per instance so tests can run several. */
export class FrontendMetrics {
  readonly registry = new Registry();
  readonly claims: Counter<'outcome'>;
  readonly claimWait: Histogram;
  readonly leaseErrors: Counter<'operation'>;

  constructor(dispatcher: ClaimDispatcher) {
    collectDefaultMetrics({ register: this.registry, prefix: 'distci_process_' });
    new Gauge({
      name: 'distci_claims_parked',
      help: 'Claim long polls waiting on this frontend',
      registers: [this.registry],
      collect() {
        this.set(dispatcher.parked);
      },
    });
    this.claims = new Counter({
      name: 'distci_claims_total',
      help: 'Claim requests answered, by outcome (leased or empty)',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.claimWait = new Histogram({
      name: 'distci_claim_wait_seconds',
      help: 'Time a granted claim waited on this frontend',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [this.registry],
    });
    this.leaseErrors = new Counter({
      name: 'distci_stale_lease_writes_total',
      help: 'Renew, complete or release refused because the lease token was stale',
      labelNames: ['operation'],
      registers: [this.registry],
    });
  }
}
