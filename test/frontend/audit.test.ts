import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import type { Coordinator } from '../../src/coordination/contract.js';
import { SqliteCoordinator } from '../../src/coordination/embedded/sqlite-coordinator.js';
import { buildFrontend } from '../../src/frontend/server.js';
import type { AuditEntry } from '../../src/frontend/services/audit.js';
import { ConfiguredSecrets } from '../../src/frontend/services/secrets.js';
import { FsStore } from '../../src/storage/fs/fs-store.js';
import { silent, startTestFrontend, tempDir, type TestFrontend } from '../support/embedded.js';

const ALICE = 'audit-alice-token-0123456789';
const BOB = 'audit-bob-token-0123456789';
const WORKER = 'audit-worker-token-0123456789';
const TOKENS = [
  { name: 'alice', role: 'admin' as const, token: ALICE },
  { name: 'bob', role: 'user' as const, token: BOB },
  { name: 'runner', role: 'worker' as const, token: WORKER },
];
const JOB = (id: string, description = 'a job') => `id: ${id}\ndescription: ${description}\nsteps:\n  - {name: hello, type: execute-shell, params: {script: "echo hi"}}\n`;

async function http(fe: TestFrontend, method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, token: string, body?: unknown) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  let text: string | undefined;
  if (typeof body === 'string') {
    headers['content-type'] = 'application/yaml';
    text = body;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    text = JSON.stringify(body);
  }
  const res = await request(`${fe.url}/api/v1${path}`, { method, headers, body: text });
  const answer = await res.body.text();
  return { status: res.statusCode, text: answer, json: () => JSON.parse(answer) as Record<string, unknown> };
}

async function auditLog(fe: TestFrontend, query = ''): Promise<{ entries: AuditEntry[]; next: number | null }> {
  const res = await http(fe, 'GET', `/audit?limit=1000${query}`, ALICE);
  assert.equal(res.status, 200, res.text);
  return res.json() as unknown as { entries: AuditEntry[]; next: number | null };
}

const summary = (e: AuditEntry) => [e.action, e.actor.name, e.job ?? e.secret ?? null, e.build ?? null];

describe('audit log', () => {
  let fe: TestFrontend;
  before(async () => {
    fe = await startTestFrontend({ tokens: TOKENS });
  });
  after(() => fe.close());

  it('records every change with the token that made it, once per change', async () => {
    assert.equal((await http(fe, 'PUT', '/jobs/app', ALICE, JOB('app'))).status, 201);
    assert.equal((await http(fe, 'PUT', '/jobs/app', BOB, JOB('app', 'changed'))).status, 200);
    assert.equal((await http(fe, 'POST', '/jobs/app/builds', BOB, { idempotencyKey: 'k1' })).status, 201);
    assert.equal((await http(fe, 'POST', '/jobs/app/builds', BOB, { idempotencyKey: 'k1' })).status, 200, 'a retry is the same build');
    assert.equal((await http(fe, 'POST', '/jobs/app/builds', WORKER, { cause: { kind: 'upstream', job: 'lib', number: 7 } })).status, 201);
    assert.equal((await http(fe, 'POST', '/jobs/app/builds/1/cancel', ALICE)).status, 200);
    assert.equal((await http(fe, 'POST', '/jobs/app/builds/1/cancel', BOB)).status, 200, 'cancelling again changes nothing');
    assert.equal((await http(fe, 'DELETE', '/jobs/app', BOB)).status, 204);

    const { entries, next } = await auditLog(fe);
    assert.equal(next, null);
    assert.deepEqual(entries.map(summary), [
      ['job.apply', 'alice', 'app', null],
      ['job.apply', 'bob', 'app', null],
      ['build.trigger', 'bob', 'app', 1],
      ['build.trigger', 'runner', 'app', 2],
      ['build.cancel', 'alice', 'app', 1],
      ['job.delete', 'bob', 'app', null],
    ]);
    assert.deepEqual(entries.map((e) => e.seq), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(entries[0]!.details, { version: 1, created: true });
    assert.deepEqual(entries[1]!.details, { version: 2, created: false });
    assert.deepEqual(entries[3]!.details, { cause: 'upstream', upstream: 'lib#7' });
    assert.deepEqual(entries[2]!.actor, { name: 'bob', role: 'user' });
    for (const e of entries) {
      assert.ok(Math.abs(e.at - Date.now()) < 60_000);
      assert.ok(e.frontend.length > 0);
      assert.ok(e.ip);
    }
  });

  it('records nothing for a refused request', async () => {
    const count = (await auditLog(fe)).entries.length;
    assert.equal((await http(fe, 'PUT', '/jobs/broken', BOB, 'id: broken\nsteps: []\n')).status, 400);
    assert.equal((await http(fe, 'POST', '/jobs/missing/builds', BOB, {})).status, 404);
    assert.equal((await http(fe, 'DELETE', '/jobs/missing', BOB)).status, 404);
    assert.equal((await http(fe, 'PUT', '/jobs/x', 'not-a-token-at-all-0123', JOB('x'))).status, 401);
    assert.equal((await auditLog(fe)).entries.length, count);
  });

  it('filters by job, actor and action, and pages with after and limit', async () => {
    await http(fe, 'PUT', '/jobs/other', ALICE, JOB('other'));
    await http(fe, 'POST', '/jobs/other/builds', ALICE, {});
    assert.deepEqual((await auditLog(fe, '&job=other')).entries.map(summary), [
      ['job.apply', 'alice', 'other', null],
      ['build.trigger', 'alice', 'other', 1],
    ]);
    assert.deepEqual(
      (await auditLog(fe, '&actor=bob')).entries.map((e) => e.action),
      ['job.apply', 'build.trigger', 'job.delete'],
    );
    assert.equal((await auditLog(fe, '&action=build.trigger')).entries.length, 3);
    const page1 = (await http(fe, 'GET', '/audit?limit=2', ALICE)).json() as unknown as { entries: AuditEntry[]; next: number };
    assert.deepEqual(page1.entries.map((e) => e.seq), [1, 2]);
    const page2 = (await http(fe, 'GET', `/audit?limit=2&after=${page1.next}`, ALICE)).json() as unknown as { entries: AuditEntry[] };
    assert.deepEqual(page2.entries.map((e) => e.seq), [3, 4]);
  });

  it('is readable by admins only', async () => {
    assert.equal((await http(fe, 'GET', '/audit', BOB)).status, 403);
    assert.equal((await http(fe, 'GET', '/audit', WORKER)).status, 403);
    assert.equal((await http(fe, 'GET', '/audit?action=job.rename', ALICE)).status, 400);
  });
});

/**
 * A coordinator whose every call first waits a random moment, as a networked one would:
 * calls from two frontends then interleave, and an append that reads the last entry and
 * writes the next would lose entries.
 */
function jittery(inner: Coordinator): Coordinator {
  return new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || property === 'onClaimable') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        await delay(Math.random() * 3);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** An in-process frontend on `dir` (shared with others) over a jittery coordinator. */
async function startJitteryFrontend(dir: string): Promise<TestFrontend> {
  const coordinator = new SqliteCoordinator({ path: join(dir, 'coordinator.db') });
  const store = new FsStore({ root: join(dir, 'store') });
  const frontend = await buildFrontend({
    coordinator: jittery(coordinator),
    store,
    secrets: new ConfiguredSecrets({}),
    maxUploadBytes: 1024 * 1024,
    log: silent,
    tokens: TOKENS,
    leaseTtlMs: 10_000,
    maxWaitMs: 1_000,
    sweepMs: 100,
    bodyLimit: 1024 * 1024,
    cronIntervalMs: 0,
  });
  const url = await frontend.app.listen({ host: '127.0.0.1', port: 0 });
  const close = async () => {
    await frontend.close();
    await coordinator.close();
    await store.close();
  };
  return { url, dir, coordinator, store, frontend, api: () => assert.fail('not used'), close };
}

describe('audit log under concurrency', () => {
  it('loses no entry when two frontends append at once', async () => {
    const dir = await tempDir();
    const a = await startJitteryFrontend(dir.path);
    const b = await startJitteryFrontend(dir.path);
    try {
      assert.equal((await http(a, 'PUT', '/jobs/busy', ALICE, JOB('busy'))).status, 201);
      const perFrontend = 60;
      const triggers = [a, b].flatMap((fe, i) =>
        Array.from({ length: perFrontend }, async () => {
          const res = await http(fe, 'POST', '/jobs/busy/builds', i === 0 ? ALICE : BOB, {});
          assert.equal(res.status, 201, res.text);
        }),
      );
      const applies = [a, b].flatMap((fe) => Array.from({ length: 10 }, () => http(fe, 'PUT', '/jobs/busy', ALICE, JOB('busy', 'again'))));
      await Promise.all([...triggers, ...applies]);

      const { entries } = await auditLog(b);
      assert.equal(entries.length, 1 + 2 * perFrontend + 20);
      assert.deepEqual(
        entries.map((e) => e.seq),
        entries.map((_, i) => i + 1),
        'sequence numbers without gap or repeat',
      );
      const builds = entries.filter((e) => e.action === 'build.trigger').map((e) => e.build!);
      assert.deepEqual([...builds].sort((x, y) => x - y), Array.from({ length: 2 * perFrontend }, (_, i) => i + 1));
      assert.equal(entries.filter((e) => e.actor.name === 'bob').length, perFrontend);
      assert.equal(new Set(entries.map((e) => e.frontend)).size, 2, 'both frontends appended');
    } finally {
      await b.close();
      await a.close();
      await dir.remove();
    }
  });
});
