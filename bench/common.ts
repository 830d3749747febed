/**
 * Shared pieces of the benchmarks: the module interface `main.ts` dispatches to, result
 * rows and their table, percentiles, per-process CPU accounting, machine facts, and a
 * cleanup stack that stops every process a benchmark started (by PID) and removes its
 * temp dirs — on success, on error, and on SIGINT/SIGTERM.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ParseArgsConfig } from 'node:util';
import type { Pool } from 'undici';
import { drain, spawnDistci, waitForLine, type Proc } from '../src/harness/processes.js';

/** A parseArgs option plus its help text and the name of its value in the usage line. */
export type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & { help: string; arg?: string };

/** What every benchmark module exports. */
export interface BenchModule {
  summary: string;
  /** Flags of this benchmark besides the common `--coordinator` and `--json`. */
  options: Record<string, OptionSpec>;
  /** Hard limit on one run (default 120 s); past it everything started is stopped. */
  timeLimitMs?: number;
  run(args: BenchArgs): Promise<BenchResult>;
}

export interface BenchArgs {
  /** `--coordinator URL`, or undefined for a fresh SQLite file in a temp dir. */
  coordinator: string | undefined;
  /** This benchmark's own flags, parsed (strings or booleans as declared). */
  options: Record<string, string | boolean | undefined>;
  cleanup: Cleanup;
  /** Progress lines (stderr), so stdout carries only the table. */
  log(line: string): void;
}

export interface ResultRow {
  /** Group heading the row is printed under. */
  group: string;
  metric: string;
  value: number;
  unit: string;
  /** e.g. "≤ 5 ms"; rows without a target are informational. */
  target?: string;
  met?: boolean;
  /** Extra facts printed after the value (sample counts, CPU per op, ...). */
  detail?: string;
}

export interface BenchResult {
  benchmark: string;
  title: string;
  rows: ResultRow[];
  notes: string[];
  /** Raw figures for the JSON file. */
  details: Record<string, unknown>;
}

/** A bad flag or setting: reported as one line, without a stack trace. */
export class UsageError extends Error {}

// --- cleanup -----------------------------------------------------------------------------

/** LIFO stack of async undo steps; each runs once, failures are reported, not thrown. */
export class Cleanup {
  private readonly steps: { what: string; fn: () => Promise<void> }[] = [];
  private running: Promise<void> | null = null;

  defer(what: string, fn: () => Promise<void>): void {
    this.steps.push({ what, fn });
  }

  async tempDir(prefix: string): Promise<string> {
    const path = await mkdtemp(join(tmpdir(), prefix));
    this.defer(`remove ${path}`, () => rm(path, { recursive: true, force: true }));
    return path;
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      while (this.steps.length > 0) {
        const step = this.steps.pop()!;
        try {
          await step.fn();
        } catch (err) {
          process.stderr.write(`cleanup: ${step.what} failed: ${(err as Error).message}\n`);
        }
      }
    })();
    return this.running;
  }
}

// --- statistics --------------------------------------------------------------------------

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean,
  };
}

// --- CPU accounting ----------------------------------------------------------------------

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** Fields of /proc/PID/stat after the parenthesised command name (field 3 is index 0). */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** User + system CPU time of a process in ms, from /proc (Linux); NaN elsewhere. */
export function processCpuMs(pid: number): number {
  if (pid === process.pid) {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
  // utime and stime are fields 14 and 15.
  const fields = statFields(pid);
  return fields ? ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond() : Number.NaN;
}

/**
 * CPU ms of the children a process started and has reaped (cutime + cstime, fields 16 and
 * 17): the git, bash and tar a worker spawns. NaN when /proc cannot be read.
 */
export function childrenCpuMs(pid: number): number {
  const fields = statFields(pid);
  return fields ? ((Number(fields[13]) + Number(fields[14])) * 1000) / ticksPerSecond() : Number.NaN;
}

/**
 * CPU time all processes of the machine ran in ms (user, nice and system of all CPUs;
 * interrupts and steal excluded, as the per-process figures exclude them), from /proc/stat.
 */
export function machineBusyMs(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0] = fields;
    return ((user + nice + system) * 1000) / ticksPerSecond();
  } catch {
    return Number.NaN;
  }
}

/** Key under which `cpuMeter` reports CPU used by every process not named in `pids`. */
export const OTHER_PROCESSES = '(other processes)';

/** Key under which `cpuMeter` reports the reaped children of process `name`. */
export const childrenOf = (name: string): string => `${name} (children)`;

/**
 * CPU ms each process spent between this call and the returned function's call, plus
 * `OTHER_PROCESSES`: what the rest of the machine used meanwhile (noise from elsewhere).
 * Processes named in `withChildren` also report their reaped children under
 * `childrenOf(name)`, and those children do not count as other processes.
 */
export function cpuMeter(pids: Record<string, number>, withChildren: string[] = []): () => Record<string, number> {
  const read = (): Record<string, number> => ({
    ...Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processCpuMs(pid)])),
    ...Object.fromEntries(withChildren.map((name) => [childrenOf(name), childrenCpuMs(pids[name]!)])),
    [OTHER_PROCESSES]: machineBusyMs(),
  });
  const before = read();
  return () => {
    const after = read();
    const used = Object.fromEntries(Object.keys(after).map((name) => [name, after[name]! - before[name]!]));
    const ours = Object.keys(after)
      .filter((name) => name !== OTHER_PROCESSES)
      .reduce((sum, name) => sum + used[name]!, 0);
    used[OTHER_PROCESSES] = Math.max(0, used[OTHER_PROCESSES]! - ours);
    return used;
  };
}

// --- machine -----------------------------------------------------------------------------

export interface MachineInfo {
  /** The commit measured, with "+dirty" when src/ had uncommitted changes. */
  commit: string;
  loadAverage: number[];
  cpus: number;
  cpuModel: string;
  ramGiB: number;
  node: string;
  platform: string;
  date: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.split(':').slice(1).join(':').trim();
  } catch {
    // not Linux: os.cpus() is good enough
  }
  let commit = 'unknown';
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    commit = git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--', 'src') ? '+dirty' : '');
  } catch {
    // not a git checkout
  }
  return {
    commit,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    cpus: cpus().length,
    cpuModel,
    ramGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
  };
}

// --- output ------------------------------------------------------------------------------

export function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return `n/a ${unit}`;
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  const text = value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return `${text} ${unit}`;
}

/** The human table: one block per group, target and verdict beside each value. */
export function formatTable(result: BenchResult): string {
  const rows = result.rows.map((r) => ({
    group: r.group,
    metric: r.metric,
    value: formatValue(r.value, r.unit),
    target: r.target ?? '',
    verdict: r.met === undefined ? '' : r.met ? 'met' : 'MISSED',
    detail: r.detail ?? '',
  }));
  const width = (key: 'metric' | 'value' | 'target' | 'verdict'): number =>
    Math.max(key.length, ...rows.map((r) => r[key].length));
  const w = { metric: width('metric'), value: width('value'), target: width('target'), verdict: width('verdict') };
  const line = (metric: string, value: string, target: string, verdict: string, detail: string): string =>
    `  ${metric.padEnd(w.metric)}  ${value.padStart(w.value)}  ${target.padEnd(w.target)}  ${verdict.padEnd(w.verdict)}  ${detail}`.trimEnd();
  const out = [result.title, '', line('metric', 'value', 'target', 'verdict', 'detail')];
  let group = '';
  for (const r of rows) {
    if (r.group !== group) {
      group = r.group;
      out.push(`${group}`);
    }
    out.push(line(r.metric, r.value, r.target, r.verdict, r.detail));
  }
  if (result.notes.length > 0) {
    out.push('', 'notes:');
    for (const note of result.notes) out.push(`  - ${note}`);
  }
  return out.join('\n');
}

/** Markdown version of the table, for BENCHMARKS.md: one bold row per group. */
export function formatMarkdown(result: BenchResult): string {
  const out = ['| metric | value | target | verdict | detail |', '|---|---:|---|---|---|'];
  let group = '';
  for (const r of result.rows) {
    if (r.group !== group) {
      group = r.group;
      out.push(`| **${group}** | | | | |`);
    }
    const verdict = r.met === undefined ? '' : r.met ? 'met' : '**missed**';
    out.push(`| ${r.metric} | ${formatValue(r.value, r.unit)} | ${r.target ?? ''} | ${verdict} | ${r.detail ?? ''} |`);
  }
  return out.join('\n');
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Wall-clock time in ms since the epoch with sub-ms resolution, comparable across processes. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

// --- flags -------------------------------------------------------------------------------

/** An integer flag ≥ `min`, or `fallback` when it was not given. */
export function intOption(value: string | boolean | undefined, fallback: number, name: string, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got '${String(value)}'`);
  return n;
}

// --- HTTP --------------------------------------------------------------------------------

export interface Answer {
  status: number;
  body: unknown;
}

/**
 * One request through a raw undici Pool (the lowest client overhead). An object body is
 * sent as JSON, a string as it is (with `contentType`); a JSON answer is parsed.
 */
export async function requestJson(pool: Pool, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, contentType = 'application/json'): Promise<Answer> {
  const res = await pool.request({
    method,
    path,
    headers: body === undefined ? undefined : { 'content-type': contentType },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  const json = /json/.test(String(res.headers['content-type'] ?? ''));
  return { status: res.statusCode, body: text.length > 0 && json ? (JSON.parse(text) as unknown) : text };
}

export function expectStatus(what: string, answer: Answer, ...ok: number[]): void {
  if (!ok.includes(answer.status)) throw new Error(`${what}: HTTP ${answer.status} ${JSON.stringify(answer.body).slice(0, 500)}`);
}

// --- processes ---------------------------------------------------------------------------

/**
 * Starts a distci command as a child process and registers its stop (SIGTERM, SIGKILL
 * after 5 s) with `cleanup` before anything else can fail; with `ready`, resolves once it
 * printed a matching line. Its stdout is drained afterwards. What it logged is reported
 * when it is stopped.
 */
export async function startDistci(
  args: Pick<BenchArgs, 'cleanup' | 'log'>,
  name: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
  ready?: RegExp,
): Promise<{ proc: Proc; match: RegExpMatchArray | null }> {
  const proc = spawnDistci(argv, env);
  // A process that dies mid-run is reported at once, with the end of its log (a later
  // cleanup may never come: the run can be interrupted). One stopped on purpose — by the
  // cleanup or whoever holds the Proc, both through `child.kill` — is not.
  void proc.exited.then((code) => {
    if (!proc.child.killed) args.log(`${name} (pid ${proc.pid}) died with ${code ?? proc.child.signalCode}; it logged:\n${proc.stderr().trim().slice(-4000)}`);
  });
  args.cleanup.defer(`stop ${name} (pid ${proc.pid})`, async () => {
    const code = await proc.stop(5_000);
    const logged = proc.stderr().trim();
    if ((code !== 0 && code !== null) || logged) args.log(`${name} (pid ${proc.pid}) exited with ${code}${logged ? `; it logged:\n${logged.slice(-2000)}` : ''}`);
  });
  const match = ready ? await waitForLine(proc, ready) : null;
  drain(proc);
  return { proc, match };
}

// --- Ceph --------------------------------------------------------------------------------

const CEPH_SCRIPT = fileURLToPath(new URL('../../scripts/ceph.sh', import.meta.url));

/** A throwaway Ceph cluster's S3 gateway, as `scripts/ceph.sh start` describes it. */
export interface CephGateway {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** PIDs of the gateway, the OSD and the monitor, for `cpuMeter`. */
  pids: Record<string, number>;
}

/**
 * Starts a single-node Ceph cluster with its S3 gateway through `scripts/ceph.sh`, in a
 * state directory chosen here so that its stop is registered with `cleanup` before any
 * daemon starts: a failure, Ctrl-C or the time limit stops whatever came up (by the PIDs
 * in that directory). `memoryBytes` caps the memstore OSD (RAM).
 */
export async function startCeph(args: Pick<BenchArgs, 'cleanup' | 'log'>, memoryBytes: number): Promise<CephGateway> {
  const stateDir = join(await args.cleanup.tempDir('distci-bench-ceph-'), 'state');
  args.cleanup.defer(`stop the Ceph cluster in ${stateDir}`, async () => {
    if (existsSync(join(stateDir, 'distci-ceph'))) await cephScript(args, ['stop', stateDir]);
  });
  const out = await cephScript(args, ['start', '--dir', stateDir, '--memory', String(memoryBytes)]);
  const env = new Map(out.split('\n').flatMap((l) => (l.includes('=') ? [[l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const] : [])));
  const get = (name: string): string => {
    const value = env.get(name);
    if (value === undefined) throw new Error(`scripts/ceph.sh start printed no ${name}`);
    return value;
  };
  const pids: Record<string, number> = {};
  for (const [name, daemon] of [['radosgw', 'client.rgw.gw'], ['ceph-osd', 'osd.0'], ['ceph-mon', 'mon.a']]) {
    try {
      pids[name!] = Number(readFileSync(join(stateDir, 'run', `${daemon}.pid`), 'utf8').trim());
    } catch {
      // not running: no CPU to report
    }
  }
  return {
    endpoint: get('DISTCI_S3_ENDPOINT'),
    region: get('DISTCI_S3_REGION'),
    accessKeyId: get('AWS_ACCESS_KEY_ID'),
    secretAccessKey: get('AWS_SECRET_ACCESS_KEY'),
    pids,
  };
}

/** Runs scripts/ceph.sh; its progress lines go to the log; resolves with its stdout. */
function cephScript(args: Pick<BenchArgs, 'cleanup' | 'log'>, argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [CEPH_SCRIPT, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Stopped mid-way (Ctrl-C, time limit), the script's own trap stops what it started.
    args.cleanup.defer(`stop scripts/ceph.sh ${argv[0] ?? ''} (pid ${child.pid})`, async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.trim()) args.log(line.trim());
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`scripts/ceph.sh ${argv[0] ?? ''} exited with ${code}; see its lines above`))));
  });
}
