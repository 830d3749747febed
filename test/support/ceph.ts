/**
 * A real single-node Ceph cluster with its S3 gateway for one test file, started and
 * stopped through `scripts/ceph.sh`. Tests isolate themselves with their own bucket (or a
 * prefix of one). When Ceph cannot be had the test fails, saying how to get it: a store
 * backend that was never run against the real service is not tested.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  AbortMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import type { S3StoreOptions } from '../../src/storage/s3/s3-store.js';

/** From dist/test/support/ceph.js up to the repository. */
export const CEPH_SCRIPT = fileURLToPath(new URL('../../../scripts/ceph.sh', import.meta.url));

const HOW_TO_GET_CEPH =
  'These tests need a real Ceph RADOS Gateway. Run them as root (scripts/ceph.sh installs the Debian packages), ' +
  'or install them: apt-get update && apt-get install -y --no-install-recommends ceph-mon ceph-osd ceph-mgr radosgw ceph-common; ' +
  'then try `bash scripts/ceph.sh start` by hand.';

export interface CephCluster {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  stateDir: string;
  /** Store options for `bucket`, under `prefix`, with test-friendly timeouts. */
  storeOptions(bucket: string, prefix?: string, overrides?: Partial<S3StoreOptions>): S3StoreOptions;
  /**
   * The `--store` URL of `bucket`/`prefix` on this gateway, as a deployment writes it;
   * `params` adds URL parameters (e.g. `connectTimeoutMs`). Credentials go in `env()`.
   */
  storeUrl(bucket: string, prefix: string, params?: Record<string, string | number>): string;
  /** AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of the S3 user, for a frontend's environment. */
  env(): NodeJS.ProcessEnv;
  /** A raw SDK client, for looking behind the store. */
  client(): S3Client;
  /** Empties and removes a bucket (objects and unfinished multipart uploads). */
  removeBucket(bucket: string): Promise<void>;
  stopGateway(): Promise<void>;
  startGateway(): Promise<void>;
  stop(): Promise<void>;
}

/** A bucket name no other test uses. */
export function freshBucket(label = 't'): string {
  return `distci-${label}-${randomBytes(5).toString('hex')}`;
}

interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runScript(args: string[], timeoutMs: number): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [CEPH_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function script(args: string[], timeoutMs: number): Promise<string> {
  const result = await runScript(args, timeoutMs);
  if (result.code !== 0) {
    throw new Error(`scripts/ceph.sh ${args[0] ?? ''} failed (exit ${String(result.code)}):\n${result.stderr.slice(-3000)}`);
  }
  return result.stdout;
}

/** Starts a cluster; stop it in an `after` hook (an exit hook stops it too if the file dies first). */
export async function startCeph(): Promise<CephCluster> {
  let out: string;
  try {
    out = await script(['start'], 5 * 60_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${HOW_TO_GET_CEPH}`);
  }
  const env = new Map(out.split('\n').flatMap((line) => {
    const eq = line.indexOf('=');
    return eq > 0 ? [[line.slice(0, eq), line.slice(eq + 1)] as const] : [];
  }));
  const get = (name: string): string => {
    const value = env.get(name);
    if (value === undefined) throw new Error(`scripts/ceph.sh start printed no ${name} line:\n${out}`);
    return value;
  };
  const stateDir = get('DISTCI_CEPH_STATE');
  let stopped = false;
  const onExit = (): void => {
    if (!stopped) spawnSync('bash', [CEPH_SCRIPT, 'stop', stateDir], { stdio: 'ignore' });
  };
  process.once('exit', onExit);
  const clients: S3Client[] = [];

  const cluster: CephCluster = {
    endpoint: get('DISTCI_S3_ENDPOINT'),
    region: get('DISTCI_S3_REGION'),
    accessKeyId: get('AWS_ACCESS_KEY_ID'),
    secretAccessKey: get('AWS_SECRET_ACCESS_KEY'),
    stateDir,
    storeOptions: (bucket, prefix = '', overrides = {}) => ({
      bucket,
      prefix,
      endpoint: cluster.endpoint,
      region: cluster.region,
      forcePathStyle: true,
      credentials: { accessKeyId: cluster.accessKeyId, secretAccessKey: cluster.secretAccessKey },
      maxAttempts: 3,
      connectTimeoutMs: 2000,
      socketTimeoutMs: 20_000,
      ...overrides,
    }),
    storeUrl: (bucket, prefix, params = {}) => {
      const query = new URLSearchParams({ endpoint: cluster.endpoint, region: cluster.region, forcePathStyle: 'true' });
      for (const [name, value] of Object.entries(params)) query.set(name, String(value));
      return `s3://${bucket}/${prefix}?${query.toString()}`;
    },
    env: () => ({ AWS_ACCESS_KEY_ID: cluster.accessKeyId, AWS_SECRET_ACCESS_KEY: cluster.secretAccessKey }),
    client: () => {
      const client = new S3Client({
        endpoint: cluster.endpoint,
        region: cluster.region,
        forcePathStyle: true,
        credentials: { accessKeyId: cluster.accessKeyId, secretAccessKey: cluster.secretAccessKey },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      clients.push(client);
      return client;
    },
    removeBucket: async (bucket) => {
      const s3 = cluster.client();
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      for (const u of uploads.Uploads ?? []) {
        await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
      }
      for (;;) {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
        const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key }));
        if (keys.length === 0) break;
        await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
      }
      await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    },
    stopGateway: async () => {
      await script(['stop-gateway', stateDir], 60_000);
    },
    startGateway: async () => {
      await script(['start-gateway', stateDir], 120_000);
    },
    stop: async () => {
      for (const client of clients) client.destroy();
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', onExit);
      await script(['stop', stateDir], 120_000);
    },
  };
  return cluster;
}

/** One cluster per test file, started on first use. */
export function sharedCeph(): { get(): Promise<CephCluster>; stop(): Promise<void> } {
  let starting: Promise<CephCluster> | undefined;
  return {
    get: () => (starting ??= startCeph()),
    stop: async () => {
      if (starting) await (await starting.catch(() => undefined))?.stop();
    },
  };
}
