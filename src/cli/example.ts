import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError } from '../client/api-client.js';
import type { BuildsApi } from '../client/builds-api.js';
import type { BuildRecord } from '../core/builds/build.js';

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));

/** Copies the sample project under the data directory and makes it a git repository (once). */
export function prepareSampleRepository(dataDir: string): string {
  const repo = join(resolve(dataDir), 'examples', 'sample-project');
  if (existsSync(join(repo, '.git'))) return repo;
  cpSync(join(EXAMPLES, 'sample-project'), repo, { recursive: true });
  const env = { ...process.env, GIT_AUTHOR_NAME: 'distci', GIT_AUTHOR_EMAIL: 'distci@localhost', GIT_COMMITTER_NAME: 'distci', GIT_COMMITTER_EMAIL: 'distci@localhost' };
  for (const args of [['init', '-q', '-b', 'main'], ['add', '-A'], ['commit', '-q', '-m', 'sample project']]) {
    execFileSync('git', args, { cwd: repo, env, stdio: 'ignore' });
  }
  return repo;
}

/** Registers the example job `hello` unless a job of that name exists already. */
export async function ensureExampleJob(api: BuildsApi, repo: string): Promise<void> {
  try {
    await api.getJob('hello');
    return;
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
  }
  const text = readFileSync(join(EXAMPLES, 'hello.yaml'), 'utf8').replace('REPOSITORY', JSON.stringify(repo));
  await api.applyJob('hello', text, 'yaml');
}

/** Triggers the example job and waits for the build to end. */
export async function runExampleBuild(api: BuildsApi, timeoutMs = 120_000): Promise<BuildRecord> {
  const { build } = await api.trigger('hello', { cause: { kind: 'cli' } });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await api.getBuild('hello', build.number);
    if (['success', 'failure', 'error', 'cancelled'].includes(current.status) || Date.now() > deadline) return current;
    await new Promise((r) => setTimeout(r, 100));
  }
}
