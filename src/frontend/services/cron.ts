import type { Logger } from 'pino';
import type { Coordinator } from '../../coordination/contract.js';
import { ConflictError, NotFoundError } from '../../core/errors.js';
import { ticksBetween } from '../../core/jobs/cron.js';
import type { BuildService } from './builds.js';

/** `cron/<job>`: a job's schedule and the last tick that fired. */
export interface CronEntry {
  job: string;
  cron: string;
  /** The last tick (ms) that triggered a build, or when the schedule was set. */
  lastTick: number;
}

export const cronKey = (job: string): string => `cron/${job}`;

export interface CronOptions {
  intervalMs: number;
  log: Logger;
  /** Injectable for tests; cron ticks are wall-clock minutes. */
  now?: () => number;
}

/**
 * Fires cron ticks from every frontend, each tick exactly once: the build for a tick is
 * created with the idempotency key `cron/<tick>`, so however many frontends see the tick
 * due at the same moment, one build is made; then `lastTick` moves forward with
 * compare-and-set. Ticks missed while no frontend ran are not replayed: only the latest
 * due one fires.
 */
export class CronScheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private readonly now: () => number;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly builds: BuildService,
    private readonly options: CronOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.tick().finally(() => (this.running = null));
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One pass over every schedule; returns the builds it triggered. */
  async tick(): Promise<string[]> {
    const fired: string[] = [];
    const now = this.now();
    for (let after: string | undefined; ; ) {
      const page = await this.coordinator.listRecords<CronEntry>('cron/', { limit: 500, ...(after ? { after } : {}) });
      for (const { value: entry, version } of page.records) {
        try {
          const due = ticksBetween(entry.cron, entry.lastTick, now).at(-1);
          if (due === undefined) continue;
          const { build, created } = await this.builds.trigger(entry.job, {
            trigger: { kind: 'cron', by: new Date(due).toISOString() },
            idempotencyKey: `cron/${due}`,
          });
          if (created) fired.push(`${entry.job}#${build.number}`);
          await this.coordinator.putRecord(cronKey(entry.job), { ...entry, lastTick: due }, version).catch((err) => {
            if (!(err instanceof ConflictError)) throw err;
          });
        } catch (err) {
          if (err instanceof NotFoundError) continue; // job deleted meanwhile
          this.options.log.warn({ err, job: entry.job }, 'cron tick failed; the next pass retries it');
        }
      }
      if (!page.next) return fired;
      after = page.next;
    }
  }
}
