import { consoleStepPrefix, isFinal, type BuildRecord, type StepState } from '../../core/builds/build.js';
import type { ConsoleEvent } from '../../core/builds/console-events.js';
import type { Store } from '../../storage/contract.js';

/** `0001/00000003` → attempt 1, seq 3. */
function parseChunkKey(prefix: string, key: string): { attempt: number; seq: number } | null {
  const m = /^(\d{4})\/(\d{8})$/.exec(key.slice(prefix.length));
  return m ? { attempt: Number(m[1]), seq: Number(m[2]) } : null;
}

/**
 * Reads a build's console from the store, step by step in pipeline order, remembering how
 * far it got so a live tail only ever reads new chunks. Any frontend can do this: all
 * state is in the store and the build record.
 */
export class ConsoleReader {
  private readonly cursors = new Map<string, string>();
  private readonly told = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly job: string,
    private readonly number: number,
  ) {}

  /** Everything new since the last call, as events, for the build as it is now. */
  async poll(build: BuildRecord): Promise<ConsoleEvent[]> {
    const events: ConsoleEvent[] = [];
    for (const step of build.steps) {
      if (step.ticketId === null && step.status === 'pending') continue;
      events.push(...(await this.newChunks(step)));
      for (const attempt of step.attempts) {
        const id = `lost:${step.name}:${attempt.attempt}`;
        if (attempt.code === 'worker_lost' && !this.told.has(id)) {
          this.told.add(id);
          events.push({ type: 'lost', step: step.name, attempt: attempt.attempt, message: attempt.message ?? 'the worker was lost; the step was retried' });
        }
      }
      const doneId = `step:${step.name}`;
      if (['success', 'failure', 'error', 'cancelled', 'skipped'].includes(step.status) && !this.told.has(doneId)) {
        this.told.add(doneId);
        const event: ConsoleEvent = { type: 'step', step: step.name, status: step.status, attempt: step.attempts.length };
        if (step.code) event.code = step.code;
        if (step.message) event.message = step.message;
        events.push(event);
      }
    }
    if (isFinal(build.status) && !this.told.has('end')) {
      this.told.add('end');
      events.push({ type: 'end', status: build.status, ...(build.message ? { message: build.message } : {}) });
    }
    return events;
  }

  private async newChunks(step: StepState): Promise<ConsoleEvent[]> {
    const prefix = consoleStepPrefix(this.job, this.number, step.name);
    const events: ConsoleEvent[] = [];
    let after = this.cursors.get(step.name);
    for (;;) {
      const page = await this.store.list(prefix, { limit: 1000, ...(after ? { after } : {}) });
      for (const { key } of page.keys) {
        const at = parseChunkKey(prefix, key);
        if (!at) continue;
        const text = (await this.store.getBuffer(key)).toString('utf8');
        events.push({ type: 'chunk', chunk: { step: step.name, ...at, text } });
        after = key;
      }
      if (!page.next) break;
    }
    if (after) this.cursors.set(step.name, after);
    return events;
  }
}
