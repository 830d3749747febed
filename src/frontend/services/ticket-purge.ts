import type { Logger } from 'pino';
import type { Coordinator } from '../../coordination/contract.js';

/** Most tickets one pass removes; the next pass continues. */
const PER_PASS = 1000;

/**
 * Opportunistic housekeeping: every frontend removes tickets done for longer than the
 * retention from the coordinator, so its size follows the work in flight, not history
 * (finished builds keep their record, console and artifacts in the store). The
 * coordinator decides age by its own clock; N frontends purging at once is harmless.
 */
export class TicketPurger {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly options: { retentionMs: number; log: Logger; onPurged: (n: number) => void },
  ) {}

  /** Passes run every quarter of the retention, at most every minute and at least every second. */
  get everyMs(): number {
    return Math.min(60_000, Math.max(1_000, Math.floor(this.options.retentionMs / 4)));
  }

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.pass().finally(() => (this.running = null));
    }, this.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  private async pass(): Promise<void> {
    try {
      for (let n = PER_PASS; n === PER_PASS; ) {
        n = await this.coordinator.purgeDone(this.options.retentionMs, PER_PASS);
        if (n > 0) this.options.onPurged(n);
      }
    } catch (err) {
      this.options.log.warn({ err }, 'purging done tickets failed; the next pass retries');
    }
  }
}
