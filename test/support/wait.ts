import { setTimeout as delay } from 'node:timers/promises';

/**
 * Retries `check` until it stops throwing, for conditions driven by time passing (a
 * lease running out) rather than by an event we could subscribe to.
 */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 5000, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await delay(everyMs);
    }
  }
}

/** Resolves with the first event, or rejects after `timeoutMs` with `what` in the message. */
export function nextEvent<T>(subscribe: (fire: (value: T) => void) => () => void, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const unsubscribe = subscribe((value) => {
      clearTimeout(timer);
      unsubscribe();
      resolve(value);
    });
  });
}
