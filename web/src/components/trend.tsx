/**
 * The last builds of a job as small bars: colour and height by status, width fixed. The
 * list fetches trends only for the rows of its page, only when their last build changed,
 * a few at a time.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { duration } from '../lib/format.js';
import type { BuildStatus, BuildSummary, JobSummary } from '../lib/types.js';

export interface TrendPoint {
  number: number;
  status: BuildStatus;
  ms: number | null;
}

const N = 10;
const cache = new Map<string, TrendPoint[]>();
const waiting: (() => void)[] = [];
let active = 0;
const MAX_ACTIVE = 4;

async function limited<T>(task: () => Promise<T>): Promise<T> {
  if (active >= MAX_ACTIVE) await new Promise<void>((resolve) => waiting.push(resolve));
  active++;
  try {
    return await task();
  } finally {
    active--;
    waiting.shift()?.();
  }
}

const point = (b: BuildSummary): TrendPoint => ({ number: b.number, status: b.status, ms: b.finishedAt !== null ? b.finishedAt - b.createdAt : null });

export function useTrend(job: JobSummary): TrendPoint[] | null {
  const last = job.lastBuild;
  const key = last ? `${job.id}#${last.number}:${last.status}` : null;
  const [points, setPoints] = useState<TrendPoint[] | null>(key ? (cache.get(key) ?? null) : []);
  useEffect(() => {
    if (!key) return setPoints([]);
    const hit = cache.get(key);
    if (hit) return setPoints(hit);
    let live = true;
    void limited(() => api.builds(job.id, { limit: N }))
      .then(({ builds }) => {
        const value = builds.map(point).reverse();
        cache.set(key, value);
        if (live) setPoints(value);
      })
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [key]);
  return points;
}

export function Trend({ points }: { points: TrendPoint[] | null }) {
  if (points === null) return <span class="trend" aria-hidden="true" />;
  if (points.length === 0) return <span class="trend muted">no builds</span>;
  const longest = Math.max(1, ...points.map((p) => p.ms ?? 0));
  const ok = points.filter((p) => p.status === 'success').length;
  const label = `last ${points.length} builds: ${ok} succeeded, ${points.length - ok} did not`;
  return (
    <span class="trend" role="img" aria-label={label} title={label}>
      {Array.from({ length: N - points.length }, (_, i) => (
        <span key={`e${i}`} class="bar empty" />
      ))}
      {points.map((p) => (
        <span
          key={p.number}
          class={`bar s-${p.status}`}
          style={{ height: `${p.ms === null ? 100 : Math.max(18, Math.round((Math.sqrt(p.ms) / Math.sqrt(longest)) * 100))}%` }}
          title={`#${p.number} ${p.status} ${duration(p.ms)}`}
        />
      ))}
    </span>
  );
}
