/**
 * The scale benchmark's API latency prober, a separate node process (forked by the
 * bench). One closed loop, as a person or a dashboard reads the service under load:
 * list jobs, list a job's builds, show one of them, read its console; `thinkMs` between
 * requests, frontends taken in turn. Latency is request sent → body read, in ms.
 *
 * Messages in: start, jobs (how many of the jobs have builds by now), window.
 * Messages out: window (the samples since the last one, by request kind).
 */
import { Pool } from 'undici';

export type ProbeKind = 'jobs list' | 'builds list' | 'build show' | 'console';
export const PROBE_KINDS: readonly ProbeKind[] = ['jobs list', 'builds list', 'build show', 'console'];

export type ProberIn = { type: 'start'; urls: string[]; jobs: string[]; thinkMs: number } | { type: 'jobs'; withBuilds: number } | { type: 'window' };
export interface ProberWindow {
  type: 'window';
  samples: Record<ProbeKind, number[]>;
  errors: number;
}

const empty = (): Record<ProbeKind, number[]> => ({ 'jobs list': [], 'builds list': [], 'build show': [], console: [] });

let samples = empty();
let errors = 0;
let withBuilds = 0;

async function timed(pool: Pool, kind: ProbeKind, path: string): Promise<string | null> {
  const started = performance.now();
  try {
    const res = await pool.request({ method: 'GET', path });
    const text = await res.body.text();
    samples[kind].push(performance.now() - started);
    if (res.statusCode !== 200) {
      errors++;
      return null;
    }
    return text;
  } catch {
    errors++;
    return null;
  }
}

async function loop(cfg: Extract<ProberIn, { type: 'start' }>): Promise<void> {
  const pools = cfg.urls.map((url) => new Pool(url, { connections: 1, pipelining: 1, keepAliveTimeout: 60_000 }));
  const think = (): Promise<void> => new Promise((r) => setTimeout(r, cfg.thinkMs));
  for (let round = 0; ; round++) {
    const pool = pools[round % pools.length]!;
    await timed(pool, 'jobs list', '/api/v1/jobs?limit=50');
    await think();
    if (withBuilds === 0) continue;
    const job = cfg.jobs[Math.floor(Math.random() * Math.min(withBuilds, cfg.jobs.length))]!;
    const list = await timed(pool, 'builds list', `/api/v1/jobs/${job}/builds?limit=10`);
    await think();
    const numbers = list === null ? [] : (JSON.parse(list) as { builds: { number: number }[] }).builds.map((b) => b.number);
    const n = numbers[Math.floor(Math.random() * numbers.length)];
    if (n === undefined) continue;
    await timed(pool, 'build show', `/api/v1/jobs/${job}/builds/${n}`);
    await think();
    await timed(pool, 'console', `/api/v1/jobs/${job}/builds/${n}/console`);
    await think();
  }
}

process.on('message', (message: ProberIn) => {
  switch (message.type) {
    case 'start':
      void loop(message);
      return;
    case 'jobs':
      withBuilds = message.withBuilds;
      return;
    case 'window': {
      const out: ProberWindow = { type: 'window', samples, errors };
      samples = empty();
      errors = 0;
      process.send?.(out);
      return;
    }
    default: {
      const never: never = message;
      throw new Error(`unknown message ${JSON.stringify(never)}`);
    }
  }
});
process.on('disconnect', () => process.exit(0));
