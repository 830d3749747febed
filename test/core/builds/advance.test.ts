import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { advance, initialSteps, type PlanStep } from '../../../src/core/builds/advance.js';
import type { BuildRecord } from '../../../src/core/builds/build.js';
import type { Ticket, TicketResult } from '../../../src/core/ticket.js';

function build(plan: PlanStep[], extra: Partial<BuildRecord> = {}): BuildRecord {
  return {
    job: 'j', number: 1, status: 'queued', configVersion: 1, trigger: { kind: 'api', by: 't' }, parameters: {},
    createdAt: 0, startedAt: null, finishedAt: null, deadline: null, cancelRequested: false,
    plan: [], steps: initialSteps(plan), concurrency: null, downstreamJobs: [], downstream: [], ...extra,
  };
}

function ticket(id: string, status: Ticket['status'], attempt: number, result: TicketResult | null = null, holder = 'w1'): Ticket {
  return {
    id, kind: 'execute-shell', labels: [], payload: null, refs: {}, priority: 0, status, attempt, maxAttempts: 3,
    lease: status === 'leased' ? { holder, token: attempt, expiresAt: 10_000 } : null, holder: status === 'pending' ? null : holder, leases: [], result, idempotencyKey: null,
    cancelRequested: false, followUp: null, createdAt: 5, updatedAt: 7,
  };
}

/** Gives every started step a ticket id, as the build-control worker does after posting. */
function posted(out: ReturnType<typeof advance>): BuildRecord {
  for (const name of out.start) out.build.steps.find((s) => s.name === name)!.ticketId = `t-${name}`;
  return out.build;
}

const seq: PlanStep[] = [
  { name: 'a', type: 'execute-shell', needs: [] },
  { name: 'b', type: 'execute-shell', needs: ['a'] },
];
const diamond: PlanStep[] = [
  { name: 'checkout', type: 'git-checkout', needs: [] },
  { name: 'unit', type: 'execute-shell', needs: ['checkout'] },
  { name: 'lint', type: 'execute-shell', needs: ['checkout'] },
  { name: 'publish', type: 'publish-artifacts', needs: ['unit', 'lint'] },
];
const ok: TicketResult = { outcome: 'success' };

describe('build state machine', () => {
  it('starts the steps without needs, then each step once its needs succeeded', () => {
    let out = advance(build(seq), new Map(), 100);
    assert.deepEqual(out.start, ['a']);
    assert.equal(out.build.status, 'running');
    let b = posted(out);
    out = advance(b, new Map([['t-a', ticket('t-a', 'leased', 1)]]), 200);
    assert.deepEqual(out.start, []);
    assert.equal(out.build.steps[0]!.status, 'running');
    assert.equal(out.build.steps[0]!.attempts[0]!.worker, 'w1');
    b = posted(out);
    out = advance(b, new Map([['t-a', ticket('t-a', 'done', 1, ok)]]), 300);
    assert.deepEqual(out.start, ['b']);
    b = posted(out);
    out = advance(b, new Map([['t-b', ticket('t-b', 'done', 1, ok)]]), 400);
    assert.equal(out.finished, true);
    assert.equal(out.build.status, 'success');
    assert.equal(out.build.finishedAt, 400);
  });

  it('fans out after checkout and fans in before publish', () => {
    let b = posted(advance(build(diamond), new Map(), 1));
    const out = advance(b, new Map([['t-checkout', ticket('t-checkout', 'done', 1, ok)]]), 2);
    assert.deepEqual(out.start.sort(), ['lint', 'unit']);
    b = posted(out);
    const half = advance(b, new Map([['t-unit', ticket('t-unit', 'done', 1, ok)], ['t-lint', ticket('t-lint', 'leased', 1)]]), 3);
    assert.deepEqual(half.start, [], 'publish waits for lint');
    const all = advance(posted(half), new Map([['t-lint', ticket('t-lint', 'done', 1, ok)]]), 4);
    assert.deepEqual(all.start, ['publish']);
  });

  it('skips the steps behind a failure and ends the build as failure', () => {
    let b = posted(advance(build(diamond), new Map(), 1));
    b = posted(advance(b, new Map([['t-checkout', ticket('t-checkout', 'done', 1, ok)]]), 2));
    const out = advance(
      b,
      new Map([
        ['t-unit', ticket('t-unit', 'done', 1, { outcome: 'failure', code: 'exit_1' })],
        ['t-lint', ticket('t-lint', 'done', 1, ok)],
      ]),
      3,
    );
    const publish = out.build.steps.find((s) => s.name === 'publish')!;
    assert.equal(publish.status, 'skipped');
    assert.match(publish.message ?? '', /needs unit, which ended failure/);
    assert.equal(out.build.status, 'failure');
    assert.equal(out.finished, true);
  });

  it('records a lost attempt and keeps the step running on its next attempt', () => {
    const b = posted(advance(build(seq), new Map(), 1));
    const first = advance(b, new Map([['t-a', ticket('t-a', 'leased', 1, null, 'doomed')]]), 2).build;
    const second = advance(first, new Map([['t-a', ticket('t-a', 'leased', 2, null, 'survivor')]]), 3).build;
    const a = second.steps[0]!;
    assert.equal(a.status, 'running');
    assert.deepEqual(a.attempts.map((x) => [x.attempt, x.worker, x.outcome, x.code ?? null]), [
      [1, 'doomed', 'error', 'worker_lost'],
      [2, 'survivor', null, null],
    ]);
  });

  it('never starts a step twice: a completed step stays completed on a repeated advance', () => {
    const b = posted(advance(build(seq), new Map(), 1));
    const done = advance(b, new Map([['t-a', ticket('t-a', 'done', 1, ok)]]), 2);
    const again = advance(posted(done), new Map(), 3);
    assert.deepEqual(again.start, []);
    assert.equal(again.build.steps[0]!.status, 'success');
  });

  it('on cancel, never starts pending steps, cancels running ones, and ends cancelled', () => {
    const b = posted(advance(build(seq), new Map(), 1));
    b.cancelRequested = true;
    const out = advance(b, new Map([['t-a', ticket('t-a', 'leased', 1)]]), 2);
    assert.deepEqual(out.cancel, ['t-a']);
    assert.equal(out.build.steps[1]!.status, 'cancelled');
    assert.equal(out.finished, false);
    const end = advance(out.build, new Map([['t-a', ticket('t-a', 'done', 1, { outcome: 'cancelled' })]]), 3);
    assert.equal(end.finished, true);
    assert.equal(end.build.status, 'cancelled');
  });

  it('past the deadline, stops the build as a failure with build_timeout', () => {
    const b = posted(advance(build(seq, { deadline: 50 }), new Map(), 1));
    const out = advance(b, new Map([['t-a', ticket('t-a', 'done', 1, ok)]]), 60);
    assert.deepEqual(out.start, []);
    assert.equal(out.build.steps[1]!.code, 'build_timeout');
    assert.equal(out.build.status, 'failure');
  });
});

describe('step tickets', () => {
  it('are the same request whenever they are posted, so a resumed build-control re-posts idempotently', async () => {
    const { stepTicket } = await import('../../../src/core/builds/tickets.js');
    const plan = [{ name: 'a', type: 'execute-shell', needs: [], labels: [], env: {}, secrets: [], timeoutSeconds: 600, retries: 2, maxAttempts: 3, params: { script: 'true', workdir: '.', shell: 'bash' }, step: 'a', matrixValues: {} }];
    const b = { ...build(plan), plan, deadline: Date.now() + 3_600_000 } as unknown as BuildRecord;
    const first = JSON.stringify(stepTicket(b, b.plan[0]!));
    const realNow = Date.now;
    Date.now = () => realNow() + 5000;
    try {
      assert.equal(JSON.stringify(stepTicket(b, b.plan[0]!)), first, 'five seconds later, the same ticket');
    } finally {
      Date.now = realNow;
    }
    assert.equal((JSON.parse(first) as { payload: { deadline: number } }).payload.deadline, b.deadline);
  });
});
