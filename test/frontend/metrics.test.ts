import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { allKinds } from '../../src/cli/commands/worker.js';
import { ApiClient } from '../../src/client/api-client.js';
import { BuildsApi } from '../../src/client/builds-api.js';
import { TicketsApi } from '../../src/client/tickets-api.js';
import { Worker } from '../../src/worker/runtime.js';
import type { Coordinator } from '../../src/coordination/contract.js';
import { FrontendMetrics } from '../../src/frontend/metrics.js';
import { silent, startTestFrontend, type TestFrontend } from '../support/embedded.js';
import { eventually } from '../support/wait.js';

async function scrape(url: string): Promise<string> {
  const res = await request(`${url}/metrics`);
  assert.match(String(res.headers['content-type']), /text\/plain/);
  return res.body.text();
}

/** The value of one sample, e.g. `distci_queue_pending{kind="k",labels="a,b"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('/metrics', () => {
  let fe: TestFrontend;
  let client: ApiClient;
  before(async () => {
    fe = await startTestFrontend({ leaseTtlMs: 200, sweepMs: 50 });
    client = new ApiClient({ servers: [fe.url] });
  });
  after(async () => {
    await client.close();
    await fe.close();
  });

  it('shows queue depth and age per kind and label set', async () => {
    await fe.coordinator.post({ kind: 'metrics-q', labels: ['linux', 'gpu'] });
    await fe.coordinator.post({ kind: 'metrics-q', labels: ['linux', 'gpu'] });
    const text = await scrape(fe.url);
    assert.equal(sample(text, 'distci_queue_pending{kind="metrics-q",labels="gpu,linux"}'), 2);
    assert.ok(sample(text, 'distci_queue_oldest_age_seconds{kind="metrics-q",labels="gpu,linux"}')! >= 0);
  });

  it('counts dispatches, lease expiries and reclaims, and times coordinator calls', async () => {
    const api = new TicketsApi(client);
    await fe.coordinator.post({ kind: 'metrics-lost' });
    const first = await api.claim({ workerId: 'dead', kinds: ['metrics-lost'], labels: [], waitMs: 0, claimId: 'm1' });
    assert.ok(first);
    // The holder dies: the 200 ms lease expires and the sweep returns it; the next claim is a reclaim.
    const again = await eventually(async () => {
      const grant = await api.claim({ workerId: 'alive', kinds: ['metrics-lost'], labels: [], waitMs: 0, claimId: `m2-${Math.random()}` });
      assert.ok(grant);
      return grant;
    });
    assert.equal(again.ticket.attempt, 2);
    const text = await scrape(fe.url);
    assert.ok(sample(text, 'distci_dispatch_latency_seconds_count')! >= 1);
    assert.ok(sample(text, 'distci_lease_expiries_total')! >= 1);
    assert.ok(sample(text, 'distci_reclaims_total')! >= 1);
    assert.ok(sample(text, 'distci_backend_call_seconds_count{backend="coordinator",operation="claim",outcome="ok"}')! >= 2);
  });

  it('times the claim dispatcher rounds that serve parked claims', async () => {
    const api = new TicketsApi(client);
    const before = sample(await scrape(fe.url), 'distci_claim_round_seconds_count') ?? 0;
    const parked = api.claim({ workerId: 'w', kinds: ['metrics-round'], labels: [], waitMs: 5_000, claimId: 'round-1' });
    await eventually(async () => assert.ok(sample(await scrape(fe.url), 'distci_claims_parked')! >= 1));
    await fe.coordinator.post({ kind: 'metrics-round' });
    assert.equal((await parked)?.ticket.kind, 'metrics-round');
    assert.ok(sample(await scrape(fe.url), 'distci_claim_round_seconds_count')! > before, 'the round that woke it was timed');
  });

  it('counts finished builds by status', async () => {
    const builds = new BuildsApi(client);
    await builds.applyJob('metrics-job', 'id: metrics-job\nsteps:\n  - {name: s, type: execute-shell, params: {script: "exit 1"}}\n', 'yaml');
    const worker = new Worker({ api: new TicketsApi(client), workerId: 'mw', handlers: allKinds(client, { log: silent }), labels: [], concurrency: 2, claimWaitMs: 1000, log: silent });
    worker.start();
    const { build } = await builds.trigger('metrics-job');
    await eventually(async () => assert.equal((await builds.getBuild('metrics-job', build.number)).status, 'failure'), 20_000, 20);
    await worker.stop(1000);
    const text = await scrape(fe.url);
    assert.equal(sample(text, 'distci_builds_finished_total{status="failure"}'), 1);
    assert.ok(sample(text, 'distci_backend_call_seconds_count{backend="store",operation="put",outcome="ok"}')! >= 1);
  });
});

describe('coordinator requests', () => {
  it('are counted by connection and kind when the backend tells them (ZooKeeper), and absent otherwise', async () => {
    const requests = [
      { connection: 'writer', request: 'multi', count: 7 },
      { connection: 'reader', request: 'sync', count: 3 },
    ];
    const base = { queueStats: async () => [] };
    const zk = new FrontendMetrics(() => 0, { ...base, backendRequests: () => requests } as unknown as Coordinator);
    let text = await zk.registry.metrics();
    assert.equal(sample(text, 'distci_coordinator_requests_total{connection="writer",request="multi"}'), 7);
    assert.equal(sample(text, 'distci_coordinator_requests_total{connection="reader",request="sync"}'), 3);
    requests[0]!.count = 9;
    text = await zk.registry.metrics();
    assert.equal(sample(text, 'distci_coordinator_requests_total{connection="writer",request="multi"}'), 9, 'the running total, not a sum of scrapes');
    const sqlite = new FrontendMetrics(() => 0, base as unknown as Coordinator);
    assert.doesNotMatch(await sqlite.registry.metrics(), /distci_coordinator_requests_total/);
  });
});
