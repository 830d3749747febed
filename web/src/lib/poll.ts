/**
 * Polling that keeps pages live without reloads: at a modest interval, never overlapping,
 * paused while the tab is hidden and refreshed as soon as it is shown again.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

export interface Polled<T> {
  data: T | null;
  error: Error | null;
  /** Fetch again now (after an action). */
  refresh(): void;
}

/** Keeps showing the last data while new deps load (no flash, no layout shift); key a page to start afresh. */
export function usePoll<T>(load: () => Promise<T>, intervalMs: number | null, deps: unknown[]): Polled<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const kick = useRef<() => void>(() => undefined);

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    let running = false;
    let again = false;
    const run = async (): Promise<void> => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      window.clearTimeout(timer);
      try {
        const value = await load();
        if (!stopped) {
          setData(value);
          setError(null);
        }
      } catch (err) {
        if (!stopped) setError(err instanceof Error ? err : new Error(String(err)));
      } finally {
        running = false;
      }
      if (stopped) return;
      if (again) {
        again = false;
        void run();
      } else if (intervalMs !== null && !document.hidden) {
        timer = window.setTimeout(() => void run(), intervalMs);
      }
    };
    const onVisible = (): void => {
      if (!document.hidden) void run();
    };
    kick.current = () => void run();
    void run();
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, deps);

  return { data, error, refresh: () => kick.current() };
}
