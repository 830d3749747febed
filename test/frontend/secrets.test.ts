import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { request } from 'undici';
import { buildKey } from '../../src/core/builds/build.js';
import { SqliteCoordinator } from '../../src/coordination/embedded/sqlite-coordinator.js';
import { Keyring, keyId } from '../../src/core/crypto/keyring.js';
import type { TokenConfig } from '../../src/frontend/auth.js';
import { buildFrontend, type Frontend } from '../../src/frontend/server.js';
import { ConfiguredSecrets, secretKey, type StoredSecret } from '../../src/frontend/services/secrets.js';
import { FsStore } from '../../src/storage/fs/fs-store.js';
import { tempDir } from '../support/embedded.js';

const ADMIN = 'secrets-admin-token-0123456789';
const WORKER = 'secrets-worker-token-0123456789';
const USER = 'secrets-user-token-0123456789';
const SCOPED = 'secrets-scoped-token-0123456789';
const TOKENS: TokenConfig[] = [
  { name: 'root', role: 'admin', token: ADMIN },
  { name: 'runner', role: 'worker', token: WORKER },
  { name: 'dev', role: 'user', token: USER },
  { name: 'team-a-admin', role: 'admin', token: SCOPED, jobs: 'team-a-*' },
];

/** A value distinctive enough that finding it anywhere is a leak. */
const VALUE = `s3cr3t-${randomBytes(12).toString('hex')}`;

interface Fe {
  url: string;
  coordinator: SqliteCoordinator;
  /** Every line the frontend logged, at trace level. */
  log: string[];
  frontend: Frontend;
  close(): Promise<void>;
}

/** An in-process frontend on `dir` with the given secrets keys, logging everything into memory. */
async function startFrontend(dir: string, keys: Buffer[] | null, configured: Record<string, string> = {}): Promise<Fe> {
  const log: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      log.push(chunk.toString());
      done();
    },
  });
  const coordinator = new SqliteCoordinator({ path: join(dir, 'coordinator.db') });
  const store = new FsStore({ root: join(dir, 'store') });
  const frontend = await buildFrontend({
    coordinator,
    store,
    secrets: new ConfiguredSecrets(configured),
    secretsKeyring: keys ? new Keyring(keys) : null,
    maxUploadBytes: 1024 * 1024,
    log: pino({ level: 'trace' }, sink),
    tokens: TOKENS,
    leaseTtlMs: 10_000,
    maxWaitMs: 1_000,
    sweepMs: 100,
    bodyLimit: 1024 * 1024,
    cronIntervalMs: 0,
  });
  const url = await frontend.app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    coordinator,
    log,
    frontend,
    close: async () => {
      await frontend.close();
      await coordinator.close();
      await store.close();
    },
  };
}

interface Answer {
  status: number;
  text: string;
  json: () => Record<string, unknown>;
}

async function http(fe: Fe, method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await request(`${fe.url}/api/v1${path}`, { method, headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

let builds = 0;

/**
 * A leased step ticket of `job` naming `secrets`, as a build-control worker would post it
 * for a build whose plan gives that step those secrets (the frontend checks the plan).
 */
async function leasedStep(fe: Fe, job: string, secrets: string[]): Promise<{ id: string; token: number }> {
  const kind = `secrets-test-${randomBytes(4).toString('hex')}`;
  const build = ++builds;
  await fe.coordinator.putRecord(buildKey(job, build), { job, number: build, plan: [{ name: 'deploy', secrets }] }, 0);
  const payload = { job, build, step: 'deploy', type: 'execute-shell', params: { script: 'true' }, env: {}, secrets, inputs: [] };
  await fe.coordinator.post({ kind, payload, idempotencyKey: `step/${job}/${build}/deploy` });
  const claim = await fe.coordinator.claim({ workerId: 'w1', kinds: [kind], labels: [], ttlMs: 10_000 });
  assert.ok(claim);
  return { id: claim.ticket.id, token: claim.token };
}

const stepSecrets = (fe: Fe, step: { id: string; token: number }) =>
  http(fe, 'GET', `/tickets/${step.id}/secrets`, { token: WORKER, headers: { 'x-distci-token': String(step.token) } });

describe('secrets', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const key1 = randomBytes(32);
  const key2 = randomBytes(32);
  let fe: Fe;
  before(async () => {
    dir = await tempDir();
    fe = await startFrontend(dir.path, [key1], { FROM_CONFIG: 'config-value-123' });
  });
  after(async () => {
    await fe.close();
    await dir.remove();
  });

  it('refuses to store a secret on a frontend without a key, while configured secrets keep reaching steps', async () => {
    const other = await tempDir();
    const keyless = await startFrontend(other.path, null, { FROM_CONFIG: 'config-value-123' });
    try {
      const refused = await http(keyless, 'PUT', '/secrets/DEPLOY', { token: ADMIN, body: { value: VALUE } });
      assert.equal(refused.status, 409);
      assert.match(refused.text, /no secrets key.*--secrets-key-file FILE or DISTCI_SECRETS_KEY/);
      assert.equal(await keyless.coordinator.getRecord(secretKey('DEPLOY')), null);
      const step = await leasedStep(keyless, 'app', ['FROM_CONFIG']);
      const got = await stepSecrets(keyless, step);
      assert.equal(got.status, 200);
      assert.deepEqual(got.json().secrets, { FROM_CONFIG: 'config-value-123' });
      const listed = await http(keyless, 'GET', '/secrets', { token: ADMIN });
      assert.deepEqual(listed.json().secrets, [{ name: 'FROM_CONFIG', source: 'config', keyId: null, jobs: null, createdAt: null, updatedAt: null, updatedBy: null }]);
      const deleted = await http(keyless, 'DELETE', '/secrets/FROM_CONFIG', { token: ADMIN });
      assert.equal(deleted.status, 409);
      assert.match(deleted.text, /comes from the frontends' configuration/);
    } finally {
      await keyless.close();
      await other.remove();
    }
  });

  it('keeps the value sealed at rest: neither the coordinator record nor the database files hold it', async () => {
    const res = await http(fe, 'PUT', '/secrets/AT_REST', { token: ADMIN, body: { value: VALUE } });
    assert.equal(res.status, 201);
    const record = await fe.coordinator.getRecord<StoredSecret>(secretKey('AT_REST'));
    assert.ok(record);
    assert.equal(record.value.alg, 'aes-256-gcm');
    assert.equal(record.value.keyId, keyId(key1));
    assert.equal(Buffer.from(record.value.iv, 'base64').length, 12);
    const stored = JSON.stringify(record.value);
    assert.ok(!stored.includes(VALUE), 'plaintext in the record');
    assert.ok(!stored.includes(Buffer.from(VALUE).toString('base64').slice(0, 16)), 'base64 of the value in the record');
    for (const file of ['coordinator.db', 'coordinator.db-wal']) {
      const bytes = await readFile(join(dir.path, file)).catch(() => Buffer.alloc(0));
      assert.equal(bytes.indexOf(VALUE), -1, `plaintext in ${file}`);
    }
  });

  it('never returns a value from the API nor writes it to the log, whatever the request', async () => {
    const answers: Answer[] = [];
    const call = async (...args: Parameters<typeof http>) => {
      const answer = await http(...args);
      answers.push(answer);
      return answer;
    };
    assert.equal((await call(fe, 'PUT', '/secrets/NO_LEAK', { token: ADMIN, body: { value: VALUE, jobs: 'team-b-*' } })).status, 201);
    assert.equal((await call(fe, 'PUT', '/secrets/NO_LEAK', { token: ADMIN, body: { value: VALUE } })).status, 200);
    assert.equal((await call(fe, 'GET', '/secrets', { token: ADMIN })).status, 200);
    // Requests that fail carry the value too: none may echo it.
    assert.equal((await call(fe, 'PUT', '/secrets/NO_LEAK', { token: ADMIN, raw: `{"value": ${VALUE}}` })).status, 400);
    assert.equal((await call(fe, 'PUT', '/secrets/NO_LEAK', { token: ADMIN, body: { value: VALUE, extra: VALUE } })).status, 400);
    assert.equal((await call(fe, 'PUT', '/secrets/no-leak!', { token: ADMIN, body: { value: VALUE } })).status, 400);
    assert.equal((await call(fe, 'PUT', '/secrets/NO_LEAK', { token: ADMIN, body: { value: 42, note: VALUE } })).status, 400);
    assert.equal((await call(fe, 'PUT', '/secrets/NO_LEAK', { token: USER, body: { value: VALUE } })).status, 403);
    assert.equal((await call(fe, 'PUT', '/secrets/NO_LEAK', { body: { value: VALUE } })).status, 401);
    assert.equal((await call(fe, 'POST', '/secrets/rotate', { token: ADMIN })).status, 200);
    assert.equal((await call(fe, 'GET', '/audit', { token: ADMIN })).status, 200);
    const step = await leasedStep(fe, 'app', ['NO_LEAK']);
    assert.equal((await stepSecrets(fe, step)).status, 200, 'the step itself receives it');
    assert.equal((await call(fe, 'GET', `/tickets/${step.id}/secrets`, { token: WORKER, headers: { 'x-distci-token': String(step.token + 1) } })).status, 409);

    for (const answer of answers) assert.ok(!answer.text.includes(VALUE), `value in a ${answer.status} answer: ${answer.text}`);
    assert.ok(fe.log.length > 0, 'the frontend logged something');
    for (const line of fe.log) assert.ok(!line.includes(VALUE), `value in the log: ${line}`);
    const listed = answers[2]!.json().secrets as Record<string, unknown>[];
    assert.deepEqual(Object.keys(listed.find((s) => s.name === 'NO_LEAK')!).sort(), ['createdAt', 'jobs', 'keyId', 'name', 'source', 'updatedAt', 'updatedBy']);
  });

  it('gives a step only the secrets it names, only under its lease, only if the secret allows its job', async () => {
    await http(fe, 'PUT', '/secrets/SHARED', { token: ADMIN, body: { value: 'shared-value' } });
    await http(fe, 'PUT', '/secrets/TEAM_B', { token: ADMIN, body: { value: 'team-b-value', jobs: 'team-b-*' } });
    const step = await leasedStep(fe, 'team-a-app', ['SHARED', 'FROM_CONFIG']);
    const got = await stepSecrets(fe, step);
    assert.equal(got.status, 200);
    assert.deepEqual(got.json().secrets, { SHARED: 'shared-value', FROM_CONFIG: 'config-value-123' });
    assert.equal(got.text.includes('team-b-value'), false);

    const stale = await http(fe, 'GET', `/tickets/${step.id}/secrets`, { token: WORKER, headers: { 'x-distci-token': String(step.token + 1) } });
    assert.equal(stale.status, 409);
    assert.equal((await http(fe, 'GET', `/tickets/${step.id}/secrets`, { token: USER, headers: { 'x-distci-token': String(step.token) } })).status, 403);

    const foreign = await stepSecrets(fe, await leasedStep(fe, 'team-a-app', ['TEAM_B']));
    assert.equal(foreign.status, 403);
    assert.match(foreign.text, /TEAM_B may only be given to jobs matching 'team-b-\*', not to job 'team-a-app'/);
    const own = await stepSecrets(fe, await leasedStep(fe, 'team-b-app', ['TEAM_B']));
    assert.deepEqual(own.json().secrets, { TEAM_B: 'team-b-value' });
    const missing = await stepSecrets(fe, await leasedStep(fe, 'app', ['NOPE']));
    assert.equal(missing.status, 400);
    assert.match(missing.text, /secret NOPE is not defined: create it with `distci secrets set NOPE`/);
  });

  it('refuses a tampered ciphertext, one moved to another name, and a widened job scope, warning in the log', async () => {
    await http(fe, 'PUT', '/secrets/TAMPER', { token: ADMIN, body: { value: VALUE } });
    await http(fe, 'PUT', '/secrets/SCOPED', { token: ADMIN, body: { value: VALUE, jobs: 'team-b-*' } });
    const original = (await fe.coordinator.getRecord<StoredSecret>(secretKey('TAMPER')))!;
    const bytes = Buffer.from(original.value.ciphertext, 'base64');
    bytes[0] = bytes[0]! ^ 0x01;
    const flipped = await fe.coordinator.putRecord(secretKey('TAMPER'), { ...original.value, ciphertext: bytes.toString('base64') }, original.version);
    const refused = await stepSecrets(fe, await leasedStep(fe, 'app', ['TAMPER']));
    assert.equal(refused.status, 409);
    assert.match(refused.text, /TAMPER failed its integrity check/);
    assert.ok(fe.log.some((line) => line.includes('failed its integrity check') && line.includes('"secret":"TAMPER"')));

    const scoped = (await fe.coordinator.getRecord<StoredSecret>(secretKey('SCOPED')))!;
    const { name: _name, ...sealed } = scoped.value;
    await fe.coordinator.putRecord(secretKey('TAMPER'), { ...sealed, name: 'TAMPER', jobs: null }, flipped.version);
    assert.equal((await stepSecrets(fe, await leasedStep(fe, 'app', ['TAMPER']))).status, 409, 'a ciphertext moved to another name');
    await fe.coordinator.putRecord(secretKey('SCOPED'), { ...scoped.value, jobs: '*' }, scoped.version);
    assert.equal((await stepSecrets(fe, await leasedStep(fe, 'app', ['SCOPED']))).status, 409, 'a widened job scope');
    for (const name of ['SCOPED', 'TAMPER']) assert.equal((await http(fe, 'DELETE', `/secrets/${name}`, { token: ADMIN })).status, 204);
  });

  it('rotates: a frontend given a new first key re-seals everything, after which the old key can go', async () => {
    const own = await tempDir();
    const fe = await startFrontend(own.path, [key1]);
    await http(fe, 'PUT', '/secrets/ROT_A', { token: ADMIN, body: { value: 'rot-a-value' } });
    await http(fe, 'PUT', '/secrets/ROT_B', { token: ADMIN, body: { value: 'rot-b-value', jobs: 'app' } });
    await http(fe, 'PUT', '/secrets/ROT_BAD', { token: ADMIN, body: { value: 'rot-bad-value' } });
    const bad = (await fe.coordinator.getRecord<StoredSecret>(secretKey('ROT_BAD')))!;
    const tampered = await fe.coordinator.putRecord(secretKey('ROT_BAD'), { ...bad.value, tag: Buffer.alloc(16).toString('base64') }, bad.version);
    const both = await startFrontend(own.path, [key2, key1]);
    const newOnly = await startFrontend(own.path, [key2]);
    const oldOnly = await startFrontend(own.path, [key1]);
    try {
      // Unreadable until rotated: the new-key-only frontend does not hold key 1 yet.
      const early = await stepSecrets(newOnly, await leasedStep(newOnly, 'app', ['ROT_A']));
      assert.equal(early.status, 409);
      assert.match(early.text, new RegExp(`sealed with key ${keyId(key1)}, which this frontend does not hold`));
      const report = await http(newOnly, 'POST', '/secrets/rotate', { token: ADMIN });
      assert.ok((report.json().unreadable as unknown[]).length > 0, 'a frontend without the old key reports what it cannot read');

      const rotated = await http(both, 'POST', '/secrets/rotate', { token: ADMIN });
      assert.equal(rotated.status, 200);
      assert.equal(rotated.json().keyId, keyId(key2));
      assert.deepEqual(rotated.json().rotated, ['ROT_A', 'ROT_B']);
      // A record failing its check is reported and left alone, never re-sealed (which would bless it).
      assert.deepEqual(rotated.json().unreadable, [{ name: 'ROT_BAD', keyId: keyId(key1), reason: 'tampered' }]);
      assert.deepEqual(await fe.coordinator.getRecord(secretKey('ROT_BAD')), tampered);
      assert.equal((await http(both, 'DELETE', '/secrets/ROT_BAD', { token: ADMIN })).status, 204);
      const listed = (await http(both, 'GET', '/secrets', { token: ADMIN })).json();
      assert.deepEqual(
        (listed.secrets as { name: string; keyId: string }[]).map((s) => [s.name, s.keyId]),
        [
          ['ROT_A', keyId(key2)],
          ['ROT_B', keyId(key2)],
        ],
      );
      assert.deepEqual(listed.keys, [keyId(key2), keyId(key1)]);
      const again = (await http(both, 'POST', '/secrets/rotate', { token: ADMIN })).json();
      assert.deepEqual(again.rotated, []);

      const after = await stepSecrets(newOnly, await leasedStep(newOnly, 'app', ['ROT_A', 'ROT_B']));
      assert.deepEqual(after.json().secrets, { ROT_A: 'rot-a-value', ROT_B: 'rot-b-value' });
      assert.equal((await stepSecrets(oldOnly, await leasedStep(oldOnly, 'app', ['ROT_A']))).status, 409, 'the old key alone no longer opens them');
      const audit = (await http(both, 'GET', '/audit?action=secrets.rotate', { token: ADMIN })).json().entries as { actor: { name: string } }[];
      assert.equal(audit.length, 3);
      assert.ok(audit.every((e) => e.actor.name === 'root'));
    } finally {
      await Promise.all([fe.close(), both.close(), newOnly.close(), oldOnly.close()]);
      await own.remove();
    }
  });

  it('lets only unrestricted admins manage secrets, and audits each change by name, never by value', async () => {
    assert.equal((await http(fe, 'GET', '/secrets', { token: USER })).status, 403);
    assert.equal((await http(fe, 'GET', '/secrets', { token: WORKER })).status, 403);
    assert.equal((await http(fe, 'GET', '/secrets', { token: SCOPED })).status, 403);
    assert.equal((await http(fe, 'DELETE', '/secrets/AT_REST', { token: SCOPED })).status, 403);
    assert.equal((await http(fe, 'DELETE', '/secrets/AT_REST', { token: ADMIN })).status, 204);
    assert.equal(await fe.coordinator.getRecord(secretKey('AT_REST')), null);
    assert.equal((await http(fe, 'DELETE', '/secrets/AT_REST', { token: ADMIN })).status, 404);
    const audit = await http(fe, 'GET', '/audit?limit=1000', { token: ADMIN });
    const entries = audit.json().entries as { action: string; secret?: string; actor: { name: string } }[];
    assert.deepEqual(
      entries.filter((e) => e.secret === 'AT_REST').map((e) => [e.action, e.actor.name]),
      [
        ['secret.set', 'root'],
        ['secret.delete', 'root'],
      ],
    );
    assert.ok(!audit.text.includes(VALUE));
  });
});
