/**
 * One high-availability scenario: builds triggered before a fault and during it, the
 * fault, then every build run to its end. What it checks, from the builds, the tickets
 * and the side effects the step scripts leave in a marks file:
 * - every build triggered (with an idempotency key, so a retried trigger is one build) is
 *   numbered 1..N once and ends successfully;
 * - every step has one ticket, done and successful; no ticket of the job is left
 *   pending or leased;
 * - a step ran more than once only if an earlier attempt was on a killed worker, and its
 *   side effects happened at most once per attempt; every other step exactly once.
 * And what it measures (printed, never asserted): how long after the fault the next step
 * completed, the next step started, and a killed worker's steps started again.
 */
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { BuildRecord } from '../../src/core/builds/build.js';
import type { Ticket } from '../../src/core/ticket.js';
import { lines, tally } from '../support/cluster.js';
import type { HaCluster } from './ha-cluster.js';

export interface Fault {
  /** When the first fault action was taken (ms since the epoch). */
  at: number;
  what: string;
  /** Worker ids killed: their steps, and only theirs, may run again. */
  killedWorkers: string[];
}

export interface ScenarioOptions {
  /** The job's name; one job per scenario. */
  job: string;
  triggeredBefore: number;
  triggeredDuring: number;
  /** Seconds each of the two steps sleeps. */
  sleeps: [number, number];
  /** Steps that must have ended before the fault, so that it hits a steady flow (default 8). */
  faultAfterSteps?: number;
  /** Injects the fault once the cluster is busy; resolves when it is done. */
  inject(cluster: HaCluster): Promise<Fault>;
  /** How long every build may take to finish. */
  timeoutMs?: number;
}

export interface ScenarioResult {
  fault: Fault;
  /** What went wrong; empty when every check passed. */
  problems: string[];
  /** Counts and timings, to print. */
  report: string[];
  /** `build/step` of the steps that ran more than once. */
  reran: string[];
}

interface Mark {
  what: 'start' | 'done';
  step: string;
  attempt: number;
  at: number;
}

const STEPS = ['compile', 'package'] as const;

function jobYaml(job: string, marks: string, sleeps: [number, number]): string {
  const mark = (what: string): string => `echo "${what} $DISTCI_BUILD/$DISTCI_STEP $DISTCI_ATTEMPT $(date +%s%3N)" >> ${marks}`;
  const step = (name: string, sleep: number): string =>
    `  - {name: ${name}, type: execute-shell, params: {script: '${mark('start')}; sleep ${sleep}; ${mark('done')}'}}`;
  return `id: ${job}\nsteps:\n${step(STEPS[0], sleeps[0])}\n${step(STEPS[1], sleeps[1])}\n`;
}

function readMarks(path: string): Mark[] {
  return lines(path).map((line) => {
    const [what, step, attempt, at] = line.split(' ');
    return { what: what as Mark['what'], step: step!, attempt: Number(attempt), at: Number(at) };
  });
}

export async function runScenario(cluster: HaCluster, o: ScenarioOptions): Promise<ScenarioResult> {
  const marksPath = join(cluster.dir, `${o.job}.marks`);
  const api = cluster.builds;
  await api.applyJob(o.job, jobYaml(o.job, marksPath, o.sleeps), 'yaml');
  const trigger = (i: number): Promise<number> =>
    api.trigger(o.job, { idempotencyKey: `${o.job}-${i}` }, { retryUntil: Date.now() + 60_000 }).then((r) => r.build.number);

  const before = await Promise.all(Array.from({ length: o.triggeredBefore }, (_, i) => trigger(i)));
  const flowing = o.faultAfterSteps ?? 8;
  const stepsDone = async (): Promise<number> => (await cluster.tickets.list({ job: o.job, kind: 'execute-shell', status: 'done', limit: 500 })).tickets.length;
  for (const deadline = Date.now() + 60_000; (await stepsDone()) < flowing; await delay(50)) {
    if (Date.now() > deadline) throw new Error(`fewer than ${flowing} steps completed within 60 s`);
  }
  const fault = await o.inject(cluster);
  const during = await Promise.all(Array.from({ length: o.triggeredDuring }, (_, i) => trigger(o.triggeredBefore + i)));
  const total = o.triggeredBefore + o.triggeredDuring;

  const builds = await allFinished(cluster, o.job, total, o.timeoutMs ?? 180_000);
  const tickets = await allTickets(cluster, o.job);
  const marks = readMarks(marksPath);

  const problems: string[] = [];
  const numbers = [...before, ...during].sort((a, b) => a - b);
  const expected = Array.from({ length: total }, (_, i) => i + 1);
  if (numbers.join() !== expected.join()) problems.push(`triggers answered builds ${numbers.join(',')}, not 1..${total}`);
  if (builds.map((b) => b.number).sort((a, b) => a - b).join() !== expected.join()) {
    problems.push(`stored builds are ${builds.map((b) => b.number).join(',')}, not 1..${total}`);
  }
  for (const b of builds.filter((b) => b.status !== 'success')) {
    problems.push(`build ${b.number} ended ${b.status}: ${JSON.stringify(b.steps.map((s) => [s.name, s.status, s.code, s.message]))}`);
  }
  const steps = tickets.filter((t) => t.kind === 'execute-shell');
  const controls = tickets.filter((t) => t.kind === 'build-control');
  const stepKey = (t: Ticket): string => `${t.refs.build}/${t.refs.step}`;
  const perStep = tally(steps.map(stepKey));
  for (const b of expected) {
    for (const s of STEPS) if (perStep.get(`${b}/${s}`) !== 1) problems.push(`step ${b}/${s} has ${perStep.get(`${b}/${s}`) ?? 0} tickets, not 1`);
  }
  for (const t of tickets.filter((t) => t.status !== 'done' || (t.kind === 'execute-shell' && t.result?.outcome !== 'success'))) {
    problems.push(`${t.kind} ticket ${t.id} (${stepKey(t)}) is ${t.status} ${JSON.stringify(t.result)}`);
  }

  const killed = new Set(fault.killedWorkers);
  const starts = tally(marks.filter((m) => m.what === 'start').map((m) => m.step));
  const dones = tally(marks.filter((m) => m.what === 'done').map((m) => m.step));
  const reran: string[] = [];
  for (const t of steps) {
    const key = stepKey(t);
    const earlier = t.leases.slice(0, -1);
    const runs = { starts: starts.get(key) ?? 0, dones: dones.get(key) ?? 0 };
    if (t.attempt > 1 || runs.starts > 1) reran.push(key);
    if (!earlier.every((l) => killed.has(l.holder))) {
      problems.push(`step ${key} ran again although no earlier holder was killed: attempts ${JSON.stringify(t.leases)}`);
    }
    if (t.attempt === 1 ? runs.starts !== 1 || runs.dones !== 1 : runs.dones < 1 || runs.dones > t.attempt || runs.starts > t.attempt) {
      problems.push(`step ${key} (${t.attempt} attempt(s)) left ${runs.starts} start and ${runs.dones} done side effects`);
    }
  }

  const report = [
    `${fault.what}`,
    `builds: ${builds.length} stored of ${total} triggered (${o.triggeredBefore} before the fault, ${o.triggeredDuring} during), ${builds.filter((b) => b.status === 'success').length} successful`,
    `tickets: ${steps.length} step tickets for ${total * STEPS.length} steps, ${controls.length} build-control tickets, ${tickets.filter((t) => t.status !== 'done').length} not done`,
    `side effects: ${marks.filter((m) => m.what === 'start').length} step starts, ${marks.filter((m) => m.what === 'done').length} step ends; steps run again: ${reran.length ? reran.join(' ') : 'none'}`,
    ...timings(fault, steps, marks, reran),
  ];
  return { fault, problems, report, reran };
}

async function allFinished(cluster: HaCluster, job: string, total: number, timeoutMs: number): Promise<BuildRecord[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { builds } = await cluster.builds.listBuilds(job, { limit: 1000 }, { retryUntil: deadline });
    const running = builds.filter((b) => !['success', 'failure', 'error', 'cancelled'].includes(b.status));
    if (builds.length >= total && running.length === 0) return builds;
    if (Date.now() > deadline) {
      // Everything known about the stuck builds, so that a failure can be diagnosed from the log
      // (their tickets as they are: waiting for them to end, as allTickets does, would not help).
      const numbers = new Set(running.map((b) => b.number));
      const tickets = (await listTickets(cluster, job)).filter((t) => numbers.has(t.refs.build ?? 0));
      throw new Error(
        `after ${timeoutMs} ms ${builds.length} of ${total} builds exist and ${running.length} are unfinished:\n` +
          running.map((b) => `build ${b.number} ${b.status}: ${JSON.stringify(b.steps.map((s) => [s.name, s.status, s.attempts]))}`).join('\n') +
          `\ntheir tickets:\n${tickets.map((t) => JSON.stringify({ ...t, payload: undefined, followUp: t.followUp ? t.followUp.kind : null })).join('\n')}`,
      );
    }
    await delay(250);
  }
}

/**
 * Every ticket of the job, once none is pending or leased (or after 30 s). A build-control
 * ticket a killed worker held may outlive its build, which another event's ticket finished:
 * its lease expires and a live worker ends it. Waiting for that, not asserting before it.
 */
async function allTickets(cluster: HaCluster, job: string): Promise<Ticket[]> {
  for (const deadline = Date.now() + 30_000; ; await delay(200)) {
    const tickets = await listTickets(cluster, job);
    if (tickets.every((t) => t.status === 'done') || Date.now() > deadline) return tickets;
  }
}

async function listTickets(cluster: HaCluster, job: string): Promise<Ticket[]> {
  const out: Ticket[] = [];
  for (let after: string | undefined; ; ) {
    const page = await cluster.tickets.list({ job, limit: 500, ...(after ? { after } : {}) }, { retryUntil: Date.now() + 30_000 });
    out.push(...page.tickets);
    if (!page.next) return out;
    after = page.next;
  }
}

const plus = (ms: number | undefined): string => (ms === undefined ? 'never' : `+${Math.round(ms)} ms`);

/** Recovery, as seen from the tickets (completion times, by ZooKeeper's clock) and the marks. */
function timings(fault: Fault, steps: Ticket[], marks: Mark[], reran: string[]): string[] {
  const completions = steps.map((t) => t.updatedAt).sort((a, b) => a - b);
  const after = completions.filter((c) => c >= fault.at);
  const firstStart = marks.filter((m) => m.what === 'start' && m.at >= fault.at).map((m) => m.at).sort((a, b) => a - b)[0];
  // Pauses between step completions, from the fault on, over the next 10 s.
  const window = [fault.at, ...after.filter((c) => c <= fault.at + 10_000)];
  const pauses = window.slice(1).map((c, i) => c - window[i]!);
  const beforeGaps = completions.filter((c) => c < fault.at).map((c, i, all) => (i === 0 ? NaN : c - all[i - 1]!)).filter((g) => !Number.isNaN(g)).sort((a, b) => a - b);
  const lines = [
    `recovery: next step completed ${plus(after[0] === undefined ? undefined : after[0] - fault.at)}, next step started ${plus(firstStart === undefined ? undefined : firstStart - fault.at)} after the fault; ` +
      `longest pause between step completions in the 10 s after it ${plus(Math.max(0, ...pauses))} (median pause before the fault ${plus(beforeGaps[Math.floor(beforeGaps.length / 2)] ?? NaN)})`,
  ];
  if (reran.length > 0) {
    const again = marks.filter((m) => m.what === 'start' && m.attempt > 1 && reran.includes(m.step)).map((m) => m.at - fault.at);
    lines.push(`the killed worker's steps (${reran.join(' ')}) started again ${again.map(plus).join(', ')} after the fault`);
  }
  return lines;
}
