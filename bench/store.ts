/**
 * store — what the store contract costs over the bare backend.
 *
 * For each backend — `file:` (a directory) and `s3://` on a throwaway Ceph RADOS Gateway
 * that `scripts/ceph.sh` starts on loopback and this benchmark stops — the same work is
 * done twice in the same run: through the store contract (`FsStore` / `S3Store`, as a
 * frontend calls it) and raw (node:fs with the same durability steps / the AWS SDK with
 * the same client settings). Measured:
 *  1. 4 KiB objects: PUT and GET per second, one at a time and 32 in flight;
 *  2. 64 MiB objects: MiB/s up and down. Up, both get the same stream of 1 MiB slices of
 *     unknown total length (as a frontend passes on a workspace upload): on S3 a multipart
 *     upload (8 MiB parts, 4 in flight), which the raw line does by hand with the same
 *     parts; one raw PutObject of the whole buffer is shown for reference.
 * Contract and raw alternate in rounds (contract, raw, raw, contract, ...) so that noise
 * from other processes falls on both alike. Target: through the contract ≥ 80% of raw.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { Store } from '../src/storage/contract.js';
import { FsStore } from '../src/storage/fs/fs-store.js';
import { S3Store, type S3StoreOptions } from '../src/storage/s3/s3-store.js';
import {
  cpuMeter,
  OTHER_PROCESSES,
  startCeph,
  summarize,
  UsageError,
  type BenchArgs,
  type BenchModule,
  type BenchResult,
  type Cleanup,
  type ResultRow,
} from './common.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const TARGET_SHARE = 0.8;
const SMALL_BYTES = 4 * KiB;

interface Settings {
  backends: Array<'file' | 's3'>;
  /** Measured time of each 4 KiB line and mode, split over `rounds`. */
  lineMs: number;
  rounds: number;
  concurrency: number;
  largeMiB: number;
  largeReps: number;
  dir: string | undefined;
}

function int(value: string | boolean | undefined, fallback: number, name: string, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got '${String(value)}'`);
  return n;
}

function settingsFrom(o: BenchArgs['options']): Settings {
  const backends = String(o.backends ?? 'file,s3').split(',').filter(Boolean);
  for (const b of backends) if (b !== 'file' && b !== 's3') throw new UsageError(`--backends takes file and/or s3, got '${b}'`);
  return {
    backends: backends as Settings['backends'],
    lineMs: int(o['line-ms'], 3000, 'line-ms', 100),
    rounds: int(o.rounds, 6, 'rounds', 1),
    concurrency: int(o.concurrency, 32, 'concurrency', 2),
    largeMiB: int(o['large-mib'], 64, 'large-mib', 9),
    largeReps: int(o['large-reps'], 3, 'large-reps', 1),
    dir: typeof o.dir === 'string' ? resolve(o.dir) : undefined,
  };
}

// --- what is measured ----------------------------------------------------------------------

/** One way of storing objects: the contract or the bare backend. */
interface Target {
  putSmall(i: number, body: Buffer): Promise<void>;
  getSmall(i: number): Promise<number>;
  /** Stores `data` under one key (replacing the previous), in 1 MiB slices of unknown total length. */
  putLarge(data: Buffer): Promise<void>;
  getLarge(): Promise<number>;
}

const smallKey = (i: number): string => `small/${String(i).padStart(8, '0')}`;
const mibSlices = (data: Buffer): Buffer[] => Array.from({ length: Math.ceil(data.length / MiB) }, (_, i) => data.subarray(i * MiB, (i + 1) * MiB));
/** A body of unknown length, as a frontend hands on an upload. */
const slices = (data: Buffer): Readable => Readable.from(mibSlices(data));

async function drainBytes(body: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const chunk of body) n += (chunk as Buffer).length;
  return n;
}

function contractTarget(store: Store): Target {
  return {
    putSmall: async (i, body) => void (await store.put(smallKey(i), body)),
    getSmall: async (i) => (await store.getBuffer(smallKey(i))).length,
    putLarge: async (data) => void (await store.put('large', slices(data))),
    getLarge: async () => drainBytes((await store.get('large')).body),
  };
}

/** A file made durable the way the `file:` store does it: temp file, write, fsync, rename, fsync the directory. */
async function durableWrite(dir: string, name: string, chunks: Iterable<Buffer> | AsyncIterable<unknown>): Promise<void> {
  const temp = join(dir, `.tmp-${name}-${randomBytes(6).toString('hex')}`);
  const file = await open(temp, 'wx');
  try {
    for await (const chunk of chunks) await file.write(chunk as Buffer);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, join(dir, name));
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

function rawFsTarget(root: string): Target {
  const small = join(root, 'small');
  const name = (i: number): string => String(i).padStart(8, '0');
  return {
    putSmall: (i, body) => durableWrite(small, name(i), [body]),
    getSmall: async (i) => (await readFile(join(small, name(i)))).length,
    putLarge: (data) => durableWrite(root, 'large', slices(data)),
    getLarge: () => drainBytes(createReadStream(join(root, 'large'))),
  };
}

/** Raw fs without fsync: what durability costs (reference only). */
function rawFsNoSync(root: string): Pick<Target, 'putSmall'> {
  return { putSmall: (i, body) => writeFile(join(root, 'small', `n${String(i).padStart(8, '0')}`), body) };
}

function rawS3Target(s3: S3Client, bucket: string, prefix: string, partSize: number, partConcurrency: number): Target & { putLargeSingle(data: Buffer): Promise<void> } {
  const key = (k: string): string => `${prefix}/${k}`;
  return {
    putSmall: async (i, body) => void (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key(smallKey(i)), Body: body, ContentLength: body.length }))),
    getSmall: async (i) => (await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key(smallKey(i)) }))).Body!.transformToByteArray()).length,
    // The same stream the contract gets, cut into parts by hand, `partConcurrency` in flight.
    putLarge: async (data) => {
      const Key = key('large');
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
      const parts: Array<{ PartNumber: number; ETag: string }> = [];
      const inFlight = new Set<Promise<void>>();
      let partNumber = 0;
      const send = (Body: Buffer): void => {
        const PartNumber = ++partNumber;
        const sending = s3
          .send(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber, Body, ContentLength: Body.length }))
          .then((out) => void (parts[PartNumber - 1] = { PartNumber, ETag: out.ETag! }));
        inFlight.add(sending);
        void sending.finally(() => inFlight.delete(sending)).catch(() => undefined);
      };
      let held: Buffer[] = [];
      let heldBytes = 0;
      for await (const chunk of slices(data)) {
        held.push(chunk as Buffer);
        heldBytes += (chunk as Buffer).length;
        if (heldBytes < partSize) continue;
        send(Buffer.concat(held));
        held = [];
        heldBytes = 0;
        while (inFlight.size >= partConcurrency) await Promise.race(inFlight);
      }
      if (heldBytes > 0) send(Buffer.concat(held));
      await Promise.all(inFlight);
      await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));
    },
    putLargeSingle: async (data) => void (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key('large-single'), Body: data, ContentLength: data.length }))),
    getLarge: async () => drainBytes((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key('large') }))).Body as Readable),
  };
}

// --- measuring ---------------------------------------------------------------------------

interface Measure {
  ops: number;
  bytes: number;
  ms: number;
  latencies: number[];
  cpu: Record<string, number>;
}

const emptyMeasure = (): Measure => ({ ops: 0, bytes: 0, ms: 0, latencies: [], cpu: {} });

/** Runs `loops` loops of `op(i)` until `ms` have passed; `i` counts up from `first`. */
async function timed(op: (i: number) => Promise<number>, first: number, loops: number, ms: number, pids: Record<string, number>, into: Measure): Promise<number> {
  let i = first;
  const meter = cpuMeter(pids);
  const started = performance.now();
  const deadline = started + ms;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t = performance.now();
      into.bytes += await op(i++);
      into.latencies.push(performance.now() - t);
      into.ops++;
    }
  };
  await Promise.all(Array.from({ length: loops }, loop));
  into.ms += performance.now() - started;
  for (const [name, used] of Object.entries(meter())) into.cpu[name] = (into.cpu[name] ?? 0) + used;
  return i;
}

/** Contract and raw take turns, ABBA, so that drift and noise fall on both alike. */
function turns(rounds: number): Array<'contract' | 'raw'> {
  return Array.from({ length: rounds }, (_, r) => (r % 2 === 0 ? (['contract', 'raw'] as const) : (['raw', 'contract'] as const))).flat();
}

interface Pair {
  contract: Measure;
  raw: Measure;
}

interface Backend {
  name: 'file' | 's3';
  title: string;
  contract: Target;
  raw: Target;
  /** Processes whose CPU the rows report (besides this one). */
  pids: Record<string, number>;
  extraSmallPut?: Pick<Target, 'putSmall'>;
  extraLargePut?: (data: Buffer) => Promise<void>;
}

interface SmallResults {
  lines: Array<[string, Pair]>;
  /** Raw fs PUT without fsync (file: only). */
  nosync?: Measure;
}

async function measureSmall(b: Backend, s: Settings, log: BenchArgs['log']): Promise<SmallResults> {
  const pids = { bench: process.pid, ...b.pids };
  const body = randomBytes(SMALL_BYTES);
  const written = { contract: 0, raw: 0 };
  const out: SmallResults = { lines: [] };
  const roundMs = s.lineMs / s.rounds;
  const lines: Array<[string, 'put' | 'get', number]> = [
    ['PUT sequential', 'put', 1],
    [`PUT ×${s.concurrency}`, 'put', s.concurrency],
    ['GET sequential', 'get', 1],
    [`GET ×${s.concurrency}`, 'get', s.concurrency],
  ];
  for (const [line, kind, loops] of lines) {
    log(`${b.name}: 4 KiB ${line}`);
    const pair: Pair = { contract: emptyMeasure(), raw: emptyMeasure() };
    for (const mode of ['contract', 'raw'] as const) {
      // Warm-up (connections, JIT), not measured.
      const target = b[mode];
      const op = kind === 'put' ? (i: number) => target.putSmall(i, body).then(() => SMALL_BYTES) : (i: number) => target.getSmall(i % Math.max(1, written[mode]));
      const end = await timed(op, written[mode], loops, 200, pids, emptyMeasure());
      if (kind === 'put') written[mode] = end;
    }
    for (const mode of turns(s.rounds)) {
      const target = b[mode];
      if (kind === 'put') {
        written[mode] = await timed((i) => target.putSmall(i, body).then(() => SMALL_BYTES), written[mode], loops, roundMs, pids, pair[mode]);
      } else {
        const n = written[mode];
        // Spread reads over every object written, in a fixed pseudo-random order.
        await timed((i) => target.getSmall((i * 7919) % n), 0, loops, roundMs, pids, pair[mode]);
      }
    }
    out.lines.push([line, pair]);
  }
  if (b.extraSmallPut) {
    log(`${b.name}: 4 KiB PUT sequential without fsync (reference)`);
    const m = emptyMeasure();
    const put = b.extraSmallPut;
    await timed((i) => put.putSmall(i, body).then(() => SMALL_BYTES), 0, 1, roundMs, pids, m);
    out.nosync = m;
  }
  return out;
}

async function measureLarge(b: Backend, s: Settings, log: BenchArgs['log']): Promise<{ put: Pair; get: Pair; single?: Measure }> {
  const pids = { bench: process.pid, ...b.pids };
  const data = randomBytes(s.largeMiB * MiB);
  const put: Pair = { contract: emptyMeasure(), raw: emptyMeasure() };
  const get: Pair = { contract: emptyMeasure(), raw: emptyMeasure() };
  const once = async (op: () => Promise<number>, into: Measure): Promise<void> => {
    const meter = cpuMeter(pids);
    const t = performance.now();
    into.bytes += await op();
    const ms = performance.now() - t;
    into.ms += ms;
    into.latencies.push(ms);
    into.ops++;
    for (const [name, used] of Object.entries(meter())) into.cpu[name] = (into.cpu[name] ?? 0) + used;
  };
  log(`${b.name}: ${s.largeMiB} MiB PUT and GET, ${s.largeReps} each`);
  for (const mode of ['contract', 'raw'] as const) await b[mode].putLarge(data); // warm-up, and the object the GETs read
  for (const mode of turns(s.largeReps)) {
    const target = b[mode];
    await once(() => target.putLarge(data).then(() => data.length), put[mode]);
    await once(() => target.getLarge(), get[mode]);
  }
  let single: Measure | undefined;
  if (b.extraLargePut) {
    single = emptyMeasure();
    const putSingle = b.extraLargePut;
    for (let r = 0; r < s.largeReps; r++) await once(() => putSingle(data).then(() => data.length), single);
  }
  return { put, get, ...(single ? { single } : {}) };
}

// --- backends ----------------------------------------------------------------------------

/** The file system type and mount point holding `path`, from /proc/mounts. */
function fileSystemOf(path: string): string {
  try {
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f.length > 2 && (path === f[1] || path.startsWith(f[1] === '/' ? '/' : `${f[1]}/`)))
      .sort((a, b) => b[1]!.length - a[1]!.length);
    const m = mounts[0];
    return m ? `${m[2]} (${m[0]} on ${m[1]})` : 'unknown';
  } catch {
    return 'unknown';
  }
}

async function fileBackend(args: BenchArgs, s: Settings): Promise<Backend> {
  const root = s.dir ? await tempUnder(args.cleanup, s.dir) : await args.cleanup.tempDir('distci-bench-store-');
  await mkdir(join(root, 'raw', 'small'), { recursive: true });
  await mkdir(join(root, 'nosync', 'small'), { recursive: true });
  const store = new FsStore({ root: join(root, 'contract') });
  await store.ready();
  return {
    name: 'file',
    title: `file: in ${root} on ${fileSystemOf(root)}`,
    contract: contractTarget(store),
    raw: rawFsTarget(join(root, 'raw')),
    pids: {},
    extraSmallPut: rawFsNoSync(join(root, 'nosync')),
  };
}

async function tempUnder(cleanup: Cleanup, dir: string): Promise<string> {
  const path = join(dir, `distci-bench-store-${randomBytes(4).toString('hex')}`);
  await mkdir(path);
  cleanup.defer(`remove ${path}`, () => rm(path, { recursive: true, force: true }));
  return path;
}

async function s3Backend(args: BenchArgs, s: Settings): Promise<Backend> {
  // Room for every object written plus overwritten ones that RGW's garbage collection has not freed yet.
  const memory = Math.max(2048, s.largeMiB * (4 * s.largeReps + 8)) * MiB;
  const ceph = await startCeph(args, memory);
  const bucket = `distci-bench-${randomBytes(4).toString('hex')}`;
  const options: S3StoreOptions = {
    bucket,
    prefix: 'contract',
    endpoint: ceph.endpoint,
    region: ceph.region,
    forcePathStyle: true,
    credentials: { accessKeyId: ceph.accessKeyId, secretAccessKey: ceph.secretAccessKey },
    maxAttempts: 3,
    connectTimeoutMs: 3000,
    socketTimeoutMs: 30_000,
  };
  const store = new S3Store(options);
  args.cleanup.defer('close the S3 store', () => store.close());
  await store.ready();
  // The raw client gets the settings S3Store gives its own (s3-client.ts), so only the layer above differs.
  const s3 = new S3Client({
    endpoint: ceph.endpoint,
    region: ceph.region,
    forcePathStyle: true,
    credentials: options.credentials!,
    maxAttempts: options.maxAttempts,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: options.connectTimeoutMs, socketTimeout: options.socketTimeoutMs },
  });
  args.cleanup.defer('close the raw S3 client', async () => s3.destroy());
  const raw = rawS3Target(s3, bucket, 'raw', 8 * MiB, 4);
  return {
    name: 's3',
    title: `s3:// on Ceph RGW (${ceph.endpoint}; memstore OSD, monitor and gateway on this machine)`,
    contract: contractTarget(store),
    raw,
    pids: ceph.pids,
    extraLargePut: raw.putLargeSingle,
  };
}

// --- rows --------------------------------------------------------------------------------

const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;
const rate = (m: Measure): number => (m.ops * 1000) / m.ms;
const mibps = (m: Measure): number => m.bytes / MiB / (m.ms / 1000);

function cpuDetail(m: Measure, perOpUnit: 'µs' | 'ms'): string {
  const scale = perOpUnit === 'µs' ? 1000 : 1;
  const parts = Object.entries(m.cpu)
    .filter(([name]) => name !== OTHER_PROCESSES)
    .map(([name, ms]) => `${name} ${((ms * scale) / Math.max(1, m.ops)).toFixed(perOpUnit === 'µs' ? 0 : 1)} ${perOpUnit}`);
  const other = (m.cpu[OTHER_PROCESSES] ?? 0) / m.ms;
  return `CPU/op: ${parts.join(', ')}; other processes ${pct(other)} of a CPU`;
}

function latencyDetail(m: Measure): string {
  const l = summarize(m.latencies);
  return `n=${m.ops.toLocaleString('en-US')}; latency p50 ${l.p50.toFixed(2)} ms p99 ${l.p99.toFixed(2)} ms`;
}

/** CPU per op of this process and the backend's daemons: throughput's cost, which noise from other processes barely moves. */
const ownCpuPerOp = (m: Measure): number =>
  Object.entries(m.cpu)
    .filter(([name]) => name !== OTHER_PROCESSES)
    .reduce((sum, [, ms]) => sum + ms, 0) / Math.max(1, m.ops);

function pairRows(group: string, line: string, rawLabel: string, pair: Pair, value: (m: Measure) => number, unit: string, cpuUnit: 'µs' | 'ms'): ResultRow[] {
  const raw = value(pair.raw);
  const contract = value(pair.contract);
  const byCpu = ownCpuPerOp(pair.raw) / ownCpuPerOp(pair.contract);
  return [
    { group, metric: `${line}, raw ${rawLabel}`, value: raw, unit, detail: `${latencyDetail(pair.raw)}; ${cpuDetail(pair.raw, cpuUnit)}` },
    {
      group,
      metric: `${line}, through the contract`,
      value: contract,
      unit,
      target: `≥ ${pct(TARGET_SHARE)} of raw (${Math.round(raw * TARGET_SHARE).toLocaleString('en-US')} ${unit})`,
      met: contract >= raw * TARGET_SHARE,
      detail: `${pct(contract / raw)} of raw (by CPU per op: ${pct(byCpu)}); ${latencyDetail(pair.contract)}; ${cpuDetail(pair.contract, cpuUnit)}`,
    },
  ];
}

async function run(args: BenchArgs): Promise<BenchResult> {
  const s = settingsFrom(args.options);
  const rows: ResultRow[] = [];
  const details: Record<string, unknown> = { settings: s };
  for (const name of s.backends) {
    const b = name === 'file' ? await fileBackend(args, s) : await s3Backend(args, s);
    const rawLabel = name === 'file' ? 'fs' : 'SDK';
    const small = await measureSmall(b, s, args.log);
    const large = await measureLarge(b, s, args.log);
    details[name] = { title: b.title, small, large };
    const g1 = `${b.title}: 4 KiB objects`;
    for (const [line, pair] of small.lines) rows.push(...pairRows(g1, line, rawLabel, pair, rate, '/s', 'µs'));
    if (small.nosync) {
      rows.push({ group: g1, metric: 'PUT sequential, raw fs writeFile without fsync (reference)', value: rate(small.nosync), unit: '/s', detail: `${latencyDetail(small.nosync)}; what durability costs` });
    }
    const g2 = `${b.title}: ${s.largeMiB} MiB objects`;
    const upLabel = name === 'file' ? 'fs (the same stream written, fsync, rename)' : 'SDK multipart by hand (the same stream, 8 MiB parts, 4 in flight)';
    rows.push(...pairRows(g2, 'PUT', upLabel, large.put, mibps, 'MiB/s', 'ms'));
    if (large.single) rows.push({ group: g2, metric: 'PUT, raw SDK: one PutObject of the whole buffer (reference)', value: mibps(large.single), unit: 'MiB/s', detail: `${latencyDetail(large.single)}; ${cpuDetail(large.single, 'ms')}` });
    rows.push(...pairRows(g2, 'GET', name === 'file' ? 'fs (createReadStream)' : 'SDK (GetObject body)', large.get, mibps, 'MiB/s', 'ms'));
  }
  return {
    benchmark: 'store',
    title: `store: contract vs raw backend, 4 KiB and ${s.largeMiB} MiB objects`,
    rows,
    notes: [
      `4 KiB lines: ${s.lineMs} ms measured per line and mode, in ${s.rounds} alternating rounds after a 200 ms warm-up; ×${s.concurrency} = that many requests in flight from this process`,
      `${s.largeMiB} MiB lines: ${s.largeReps} PUT+GET pairs per mode, alternating; every PUT but the one-PutObject reference reads a stream of 1 MiB slices of unknown total length`,
      'raw fs does what the file: store does for durability (temp file, write, fsync, rename, fsync of the directory); raw SDK uses the S3 client settings of the s3:// store',
    ],
    details,
  };
}

export const store: BenchModule = {
  summary: 'PUT/GET rates of 4 KiB objects and MiB/s of large objects, file: and s3:// (a throwaway Ceph RGW), through the store contract and raw',
  timeLimitMs: 300_000,
  options: {
    backends: { type: 'string', arg: 'list', help: 'file, s3 or both (default file,s3); s3 starts a Ceph cluster with scripts/ceph.sh' },
    'line-ms': { type: 'string', arg: 'ms', help: 'measured time of each 4 KiB line per mode (default 3000)' },
    rounds: { type: 'string', arg: 'n', help: 'alternating contract/raw rounds the line time is split into (default 6)' },
    concurrency: { type: 'string', arg: 'n', help: 'requests in flight in the concurrent lines (default 32)' },
    'large-mib': { type: 'string', arg: 'n', help: 'size of the large objects in MiB (default 64)' },
    'large-reps': { type: 'string', arg: 'n', help: 'large PUT+GET pairs per mode (default 3)' },
    dir: { type: 'string', arg: 'dir', help: 'directory for the file: store (default: the temp dir); e.g. a CephFS mount' },
  },
  run,
};
