/**
 * What the scale benchmark reads from the outside of a running deployment: the
 * frontends' Prometheus metrics (dispatch latency histogram, coordinator call counters,
 * builds finished), and RSS / CPU of processes from /proc. Nothing here changes state.
 */
import { readFileSync } from 'node:fs';
import type { Pool } from 'undici';
import { childrenCpuMs, machineBusyMs, processCpuMs } from '../common.js';

// --- Prometheus text ---------------------------------------------------------------------

/** One scrape: series (`name{labels}` as printed) → value. */
export type Scrape = Map<string, number>;

export async function scrape(pool: Pool): Promise<Scrape> {
  const res = await pool.request({ method: 'GET', path: '/metrics' });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET /metrics: HTTP ${res.statusCode}`);
  const out: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** Sum of the series of metric `name` whose labels contain every `key="value"` of `match`. */
export function sumOf(s: Scrape, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const [series, value] of s) {
    const brace = series.indexOf('{');
    if ((brace === -1 ? series : series.slice(0, brace)) !== name) continue;
    if (Object.entries(match).every(([k, v]) => series.includes(`${k}="${v}"`))) sum += value;
  }
  return sum;
}

/** Several frontends' scrapes summed (counters and histograms add up across frontends). */
export function merge(scrapes: readonly Scrape[]): Scrape {
  const out: Scrape = new Map();
  for (const s of scrapes) for (const [k, v] of s) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}

/** `after − before` for every series (counters over a window). */
export function delta(after: Scrape, before: Scrape): Scrape {
  const out: Scrape = new Map();
  for (const [k, v] of after) out.set(k, v - (before.get(k) ?? 0));
  return out;
}

export interface HistogramQuantiles {
  n: number;
  p50Ms: number;
  p99Ms: number;
  /** Share of observations above the largest finite bucket (the quantile is then a floor). */
  overflow: number;
}

/**
 * p50 and p99 of a Prometheus histogram (seconds) over a window, interpolated linearly
 * inside the bucket, as `histogram_quantile` does. The resolution is the buckets'.
 */
export function histogramQuantiles(s: Scrape, name: string): HistogramQuantiles {
  const buckets: { le: number; count: number }[] = [];
  for (const [series, value] of s) {
    if (!series.startsWith(`${name}_bucket{`)) continue;
    const le = /le="([^"]+)"/.exec(series)?.[1];
    if (le !== undefined) buckets.push({ le: le === '+Inf' ? Infinity : Number(le), count: value });
  }
  buckets.sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.count ?? 0;
  const finite = buckets.filter((b) => Number.isFinite(b.le));
  const q = (p: number): number => {
    if (total === 0) return Number.NaN;
    const rank = p * total;
    let lower = 0;
    let below = 0;
    for (const b of finite) {
      if (b.count >= rank) return 1000 * (lower + ((b.le - lower) * (rank - below)) / Math.max(1, b.count - below));
      lower = b.le;
      below = b.count;
    }
    return 1000 * lower;
  };
  const lastFinite = finite.at(-1)?.count ?? 0;
  return { n: total, p50Ms: q(0.5), p99Ms: q(0.99), overflow: total === 0 ? 0 : (total - lastFinite) / total };
}

// --- /proc -------------------------------------------------------------------------------

/** Resident set size of a process in MiB, from /proc/PID/status; NaN when it is gone. */
export function rssMiB(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? Number.NaN : Number(kb) / 1024;
  } catch {
    return Number.NaN;
  }
}

export interface ProcWindow {
  /** CPU ms of the process itself over the window. */
  cpuMs: number;
  /** CPU ms of the children it reaped over the window (git, bash, sleep). */
  childrenCpuMs: number;
  rssMaxMiB: number;
  rssLastMiB: number;
}

/**
 * Samples RSS of named processes every second and measures their CPU between `start`
 * and `stop`. One meter per measurement window.
 */
export class ProcMeter {
  private readonly cpu0 = new Map<string, { self: number; children: number }>();
  private readonly rssMax = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private readonly busy0 = machineBusyMs();
  private readonly t0 = performance.now();

  constructor(private readonly pids: Record<string, number>) {
    for (const [name, pid] of Object.entries(pids)) {
      this.cpu0.set(name, { self: processCpuMs(pid), children: childrenCpuMs(pid) });
      this.rssMax.set(name, rssMiB(pid));
    }
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
  }

  private sample(): void {
    for (const [name, pid] of Object.entries(this.pids)) {
      const rss = rssMiB(pid);
      if (Number.isFinite(rss)) this.rssMax.set(name, Math.max(this.rssMax.get(name) ?? 0, rss));
    }
  }

  /**
   * CPU per process over the window, and `otherCpuPct`: what every other process of the
   * machine used meanwhile, in % of one CPU (noise from other engineers' work).
   */
  stop(): { procs: Record<string, ProcWindow>; otherCpuPct: number } {
    clearInterval(this.timer);
    this.sample();
    const procs = this.measure();
    const ours = Object.values(procs).reduce((a, p) => a + p.cpuMs + p.childrenCpuMs, 0);
    const seconds = (performance.now() - this.t0) / 1000;
    return { procs, otherCpuPct: Math.max(0, (100 * (machineBusyMs() - this.busy0 - ours)) / (seconds * 1000)) };
  }

  private measure(): Record<string, ProcWindow> {
    return Object.fromEntries(
      Object.entries(this.pids).map(([name, pid]) => {
        const before = this.cpu0.get(name)!;
        return [
          name,
          {
            cpuMs: processCpuMs(pid) - before.self,
            childrenCpuMs: childrenCpuMs(pid) - before.children,
            rssMaxMiB: this.rssMax.get(name) ?? Number.NaN,
            rssLastMiB: rssMiB(pid),
          },
        ];
      }),
    );
  }
}
