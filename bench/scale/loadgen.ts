/**
 * The scale benchmark's load generator, a separate node process (forked by the bench,
 * IPC messages both ways) so that its CPU is not the frontends' or the bench's.
 *
 * It keeps `target` builds in flight (triggered, not yet final), triggering at most
 * `ratePerSec` per second, round-robin over the jobs it was given, each with the build
 * parameter SLEEP (set with the target). A trigger carries an idempotency key, so a retry after an unknown
 * outcome never makes two builds. It learns that a build ended by reading it
 * (`GET /jobs/J/builds/N`) once it can have ended (trigger + SLEEP), then every second:
 * no busy polling of builds that are known to be asleep.
 *
 * Messages in: start, target, window, drain. Messages out: status (every 2 s), window,
 * drained.
 */
import { Pool } from 'undici';

export type LoadgenIn =
  | { type: 'start'; urls: string[]; jobs: string[]; sleepSeconds: number; ratePerSec: number }
  | { type: 'target'; n: number; sleepSeconds: number }
  | { type: 'window' }
  | { type: 'drain'; timeoutMs: number };

export interface LoadgenWindow {
  type: 'window';
  seconds: number;
  triggered: number;
  finished: number;
  failed: number;
  triggerErrors: number;
  inFlight: number;
  /** Of the builds that ended in the window: createdAt → first step started, and → finishedAt (ms). */
  queuedMs: number[];
  totalMs: number[];
}

export interface LoadgenDrained {
  type: 'drained';
  triggered: number;
  succeeded: number;
  failed: { build: string; status: string }[];
  lost: string[];
  /** The status each lost build had when the drain ended (still queued or running, or unreadable). */
  lostStatus: Record<string, number>;
}

export type LoadgenOut = { type: 'status'; inFlight: number; triggered: number; finished: number; failed: number; triggerErrors: number } | LoadgenWindow | LoadgenDrained;

interface Tracked {
  job: string;
  number: number;
  nextPollAt: number;
}

interface BuildView {
  status: string;
  createdAt: number;
  finishedAt: number | null;
  steps: { startedAt: number | null }[];
}

const FINAL = new Set(['success', 'failure', 'error', 'cancelled']);

class LoadGenerator {
  private readonly pools: Pool[];
  private target = 0;
  private triggering = 0;
  private tokens = 0;
  private nextJob = 0;
  private seq = 0;
  private readonly inFlight = new Map<string, Tracked>();
  private readonly failed: { build: string; status: string }[] = [];
  private triggeredTotal = 0;
  private succeeded = 0;
  private window = { at: performance.now(), triggered: 0, finished: 0, failed: 0, triggerErrors: 0, queuedMs: [] as number[], totalMs: [] as number[] };
  private triggerErrors = 0;
  private stopped = false;
  private readonly ticker: NodeJS.Timeout;
  private readonly statusTimer: NodeJS.Timeout;

  constructor(private readonly cfg: Extract<LoadgenIn, { type: 'start' }>) {
    this.sleepSeconds = cfg.sleepSeconds;
    this.pools = cfg.urls.map((url) => new Pool(url, { connections: 16, pipelining: 1, keepAliveTimeout: 60_000 }));
    let last = performance.now();
    this.ticker = setInterval(() => {
      const now = performance.now();
      this.tokens = Math.min(cfg.ratePerSec, this.tokens + ((now - last) / 1000) * cfg.ratePerSec);
      last = now;
      this.fill();
      this.poll();
    }, 50);
    this.statusTimer = setInterval(() => send({ type: 'status', inFlight: this.inFlight.size, triggered: this.triggeredTotal, finished: this.succeeded + this.failed.length, failed: this.failed.length, triggerErrors: this.triggerErrors }), 2000);
  }

  private sleepSeconds: number;

  setTarget(n: number, sleepSeconds: number): void {
    this.target = n;
    this.sleepSeconds = sleepSeconds;
  }

  private pool(): Pool {
    return this.pools[this.seq % this.pools.length]!;
  }

  private fill(): void {
    if (this.stopped) return;
    while (this.tokens >= 1 && this.inFlight.size + this.triggering < this.target && this.triggering < 32) {
      this.tokens -= 1;
      void this.trigger();
    }
  }

  private async trigger(): Promise<void> {
    this.triggering++;
    const job = this.cfg.jobs[this.nextJob++ % this.cfg.jobs.length]!;
    const sleepSeconds = this.sleepSeconds;
    const key = `loadgen-${process.pid}-${this.seq++}`;
    const pool = this.pool();
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          const res = await pool.request({
            method: 'POST',
            path: `/api/v1/jobs/${job}/builds`,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ parameters: { SLEEP: String(sleepSeconds) }, idempotencyKey: key }),
          });
          const text = await res.body.text();
          if (res.statusCode === 201 || res.statusCode === 200) {
            const number = (JSON.parse(text) as { number: number }).number;
            this.inFlight.set(`${job}#${number}`, { job, number, nextPollAt: Date.now() + sleepSeconds * 1000 + 300 });
            this.triggeredTotal++;
            this.window.triggered++;
            return;
          }
          throw new Error(`HTTP ${res.statusCode} ${text.slice(0, 200)}`);
        } catch (err) {
          this.triggerErrors++;
          this.window.triggerErrors++;
          if (attempt >= 10) {
            process.stderr.write(`loadgen: trigger of ${job} failed 10 times: ${(err as Error).message}\n`);
            return;
          }
          await new Promise((r) => setTimeout(r, 200 * attempt));
        }
      }
    } finally {
      this.triggering--;
    }
  }

  private polling = 0;

  private poll(): void {
    const now = Date.now();
    for (const [key, t] of this.inFlight) {
      if (this.polling >= 16) return;
      if (t.nextPollAt > now) continue;
      t.nextPollAt = now + 1000;
      this.polling++;
      void this.read(key, t).finally(() => this.polling--);
    }
  }

  private async read(key: string, t: Tracked): Promise<void> {
    try {
      const res = await this.pools[t.number % this.pools.length]!.request({ method: 'GET', path: `/api/v1/jobs/${t.job}/builds/${t.number}` });
      const text = await res.body.text();
      if (res.statusCode !== 200) return;
      const build = JSON.parse(text) as BuildView;
      if (!FINAL.has(build.status) || !this.inFlight.has(key)) return;
      this.inFlight.delete(key);
      if (build.status === 'success') this.succeeded++;
      else this.failed.push({ build: key, status: build.status });
      this.window.finished++;
      if (build.status !== 'success') this.window.failed++;
      const started = build.steps.map((s) => s.startedAt).filter((x): x is number => x !== null);
      if (started.length > 0) this.window.queuedMs.push(Math.min(...started) - build.createdAt);
      if (build.finishedAt !== null) this.window.totalMs.push(build.finishedAt - build.createdAt);
    } catch {
      // read again next second
    }
  }

  takeWindow(): LoadgenWindow {
    const w = this.window;
    this.window = { at: performance.now(), triggered: 0, finished: 0, failed: 0, triggerErrors: 0, queuedMs: [], totalMs: [] };
    return { type: 'window', seconds: (performance.now() - w.at) / 1000, triggered: w.triggered, finished: w.finished, failed: w.failed, triggerErrors: w.triggerErrors, inFlight: this.inFlight.size, queuedMs: w.queuedMs, totalMs: w.totalMs };
  }

  async drain(timeoutMs: number): Promise<LoadgenDrained> {
    this.stopped = true;
    const deadline = Date.now() + timeoutMs;
    while ((this.inFlight.size > 0 || this.triggering > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    clearInterval(this.ticker);
    clearInterval(this.statusTimer);
    const lostStatus: Record<string, number> = {};
    for (const t of this.inFlight.values()) {
      let status = 'unreadable';
      try {
        const res = await this.pools[0]!.request({ method: 'GET', path: `/api/v1/jobs/${t.job}/builds/${t.number}` });
        const text = await res.body.text();
        if (res.statusCode === 200) status = (JSON.parse(text) as BuildView).status;
      } catch {
        // counted as unreadable
      }
      lostStatus[status] = (lostStatus[status] ?? 0) + 1;
    }
    await Promise.all(this.pools.map((p) => p.close()));
    return { type: 'drained', triggered: this.triggeredTotal, succeeded: this.succeeded, failed: this.failed, lost: [...this.inFlight.keys()], lostStatus };
  }
}

function send(message: LoadgenOut): void {
  process.send?.(message);
}

let generator: LoadGenerator | null = null;

process.on('message', (message: LoadgenIn) => {
  switch (message.type) {
    case 'start':
      generator = new LoadGenerator(message);
      return;
    case 'target':
      generator?.setTarget(message.n, message.sleepSeconds);
      return;
    case 'window':
      if (generator) send(generator.takeWindow());
      return;
    case 'drain':
      if (generator) void generator.drain(message.timeoutMs).then((d) => send(d));
      return;
    default: {
      const never: never = message;
      throw new Error(`unknown message ${JSON.stringify(never)}`);
    }
  }
});
// The bench going away takes the generator with it.
process.on('disconnect', () => process.exit(0));
