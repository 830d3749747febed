import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { ConfigError, loadSettings } from '../../src/config/settings.js';
import { startTestFrontend, tempDir, type TestFrontend } from '../support/embedded.js';

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

const ROOT = 'scopes-root-token-0123456789';
const TEAM_A = 'scopes-team-a-token-0123456789';
const TEAM_A_ADMIN = 'scopes-team-a-admin-0123456789';
const JOB = (id: string) => `id: ${id}\nsteps:\n  - {name: hello, type: execute-shell, params: {script: "echo hi"}}\n`;

async function http(fe: TestFrontend, method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, token: string | undefined, body?: string, type = 'application/json') {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = type;
  const res = await request(`${fe.url}/api/v1${path}`, { method, headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

describe('token settings', () => {
  const secret = 'a-long-enough-token-secret';
  const load = (tokens: string) => loadSettings({}, undefined, { DISTCI_AUTH_TOKENS: tokens }).tokens;

  it('keeps name:role:secret, and adds a job pattern and sha256 digests', () => {
    assert.deepEqual(load(`ci:admin:${secret}`), [{ name: 'ci', role: 'admin', token: secret }]);
    assert.deepEqual(load(`a:user:${secret}:team-a-*`), [{ name: 'a', role: 'user', token: secret, jobs: 'team-a-*' }]);
    assert.deepEqual(load(`d:admin:sha256:${sha256(secret)}`), [{ name: 'd', role: 'admin', token: `sha256:${sha256(secret)}` }]);
    assert.deepEqual(load(`b:user:sha256:${sha256(secret)}:team-b-*,w:worker:${secret}x`), [
      { name: 'b', role: 'user', token: `sha256:${sha256(secret)}`, jobs: 'team-b-*' },
      { name: 'w', role: 'worker', token: `${secret}x` },
    ]);
  });

  it('reads digests and job patterns from the config file, so no plaintext token sits on disk', async () => {
    const dir = await tempDir();
    try {
      const file = join(dir.path, 'distci.yaml');
      await writeFile(file, `tokens:\n  - {name: a, role: user, token: "sha256:${sha256(secret)}", jobs: "team-a-*"}\n`);
      assert.deepEqual(loadSettings({}, file, {}).tokens, [{ name: 'a', role: 'user', token: `sha256:${sha256(secret)}`, jobs: 'team-a-*' }]);
    } finally {
      await dir.remove();
    }
  });

  const bad: [string, string, RegExp][] = [
    ['a job pattern on a worker token', `w:worker:${secret}:team-a-*`, /tokens\/0 .*worker serves the tickets of every job/],
    ['two tokens with one secret', `a:user:${secret},b:admin:sha256:${sha256(secret)}`, /tokens\/1 .*same secret as token 0/],
    ['a pattern with a slash', `a:user:${secret}:team/a`, /invalid setting tokens\/0\/jobs/],
    ['a malformed digest, which must not become a plaintext token', `a:user:sha256:${sha256(secret).slice(1)}`, /tokens\/0 .*a digest is written sha256: and 64 hex digits/],
    ['too many fields', `a:user:${secret}:x:y`, /each token is name:role:secret or name:role:secret:job-pattern/],
  ];
  for (const [what, tokens, message] of bad) {
    it(`refuses ${what} in one line that does not show the secret`, () => {
      assert.throws(
        () => load(tokens),
        (err: Error) => err instanceof ConfigError && message.test(err.message) && !err.message.includes(secret) && !err.message.includes(sha256(secret)),
      );
    });
  }
});

describe('job-scoped tokens', () => {
  let fe: TestFrontend;
  before(async () => {
    fe = await startTestFrontend({
      tokens: [
        // Configured by digest only: the frontend never sees the plaintext until it is presented.
        { name: 'root', role: 'admin', token: `sha256:${sha256(ROOT)}` },
        { name: 'team-a', role: 'user', token: TEAM_A, jobs: 'team-a-*' },
        { name: 'team-a-admin', role: 'admin', token: TEAM_A_ADMIN, jobs: 'team-a-*' },
      ],
    });
    for (const id of ['team-a-api', 'team-a-web', 'team-b-api', 'zeta']) {
      assert.equal((await http(fe, 'PUT', `/jobs/${id}`, ROOT, JOB(id), 'application/yaml')).status, 201);
    }
    assert.equal((await http(fe, 'POST', '/jobs/team-b-api/builds', ROOT, '{}')).status, 201);
  });
  after(() => fe.close());

  it('accepts a token configured as a digest, but not the digest presented as a token', async () => {
    assert.equal((await http(fe, 'GET', '/jobs', ROOT)).status, 200);
    assert.equal((await http(fe, 'GET', '/jobs', `sha256:${sha256(ROOT)}`)).status, 401);
    assert.equal((await http(fe, 'GET', '/jobs', sha256(ROOT))).status, 401);
  });

  it('lists only the jobs matching the pattern, page by page', async () => {
    const all = await http(fe, 'GET', '/jobs', TEAM_A);
    assert.deepEqual((all.json().jobs as { id: string }[]).map((j) => j.id), ['team-a-api', 'team-a-web']);
    const first = (await http(fe, 'GET', '/jobs?limit=1', TEAM_A)).json();
    assert.deepEqual((first.jobs as { id: string }[]).map((j) => j.id), ['team-a-api']);
    const second = (await http(fe, 'GET', `/jobs?limit=1&after=${first.next as string}`, TEAM_A)).json();
    assert.deepEqual((second.jobs as { id: string }[]).map((j) => j.id), ['team-a-web']);
    const rootSees = (await http(fe, 'GET', '/jobs', ROOT)).json().jobs as unknown[];
    assert.equal(rootSees.length, 4);
  });

  it('reads, changes, triggers and cancels its own jobs', async () => {
    assert.equal((await http(fe, 'GET', '/jobs/team-a-api', TEAM_A)).status, 200);
    assert.equal((await http(fe, 'PUT', '/jobs/team-a-api', TEAM_A, JOB('team-a-api'), 'application/yaml')).status, 200);
    assert.equal((await http(fe, 'PUT', '/jobs/team-a-new', TEAM_A, JOB('team-a-new'), 'application/yaml')).status, 201);
    assert.equal((await http(fe, 'POST', '/jobs/team-a-api/builds', TEAM_A, '{}')).status, 201);
    assert.equal((await http(fe, 'POST', '/jobs/team-a-api/builds/1/cancel', TEAM_A)).status, 200);
    assert.equal((await http(fe, 'GET', '/jobs/team-a-api/builds/1', TEAM_A)).status, 200);
    assert.equal((await http(fe, 'DELETE', '/jobs/team-a-new', TEAM_A)).status, 204);
  });

  it('is refused (403) on every call about another job, and nothing changes', async () => {
    const calls: [string, 'GET' | 'PUT' | 'POST' | 'DELETE', string, string?][] = [
      ['show', 'GET', '/jobs/team-b-api'],
      ['show a version', 'GET', '/jobs/team-b-api?version=1'],
      ['change', 'PUT', '/jobs/team-b-api', JOB('team-b-api')],
      ['create', 'PUT', '/jobs/team-b-new', JOB('team-b-new')],
      ['delete', 'DELETE', '/jobs/team-b-api'],
      ['trigger', 'POST', '/jobs/team-b-api/builds', '{}'],
      ['list builds', 'GET', '/jobs/team-b-api/builds'],
      ['show a build', 'GET', '/jobs/team-b-api/builds/1'],
      ['cancel', 'POST', '/jobs/team-b-api/builds/1/cancel'],
      ['read the console', 'GET', '/jobs/team-b-api/builds/1/console'],
      ['list artifacts', 'GET', '/jobs/team-b-api/builds/1/artifacts'],
    ];
    for (const token of [TEAM_A, TEAM_A_ADMIN]) {
      for (const [what, method, path, body] of calls) {
        const type = method === 'PUT' ? 'application/yaml' : 'application/json';
        const res = await http(fe, method, path, token, body, type);
        assert.equal(res.status, 403, `${what}: ${res.text}`);
        assert.match(res.text, /may only act on jobs matching 'team-a-\*'/);
      }
    }
    const b = (await http(fe, 'GET', '/jobs/team-b-api', ROOT)).json();
    assert.equal(b.version, 1);
    const builds = (await http(fe, 'GET', '/jobs/team-b-api/builds', ROOT)).json().builds as { cancelRequested: boolean }[];
    assert.equal(builds.length, 1);
    assert.equal(builds[0]!.cancelRequested, false);
    assert.equal((await http(fe, 'GET', '/jobs/team-b-new', ROOT)).status, 404);
  });

  it('is refused calls not about one job: tickets, secrets, the audit log', async () => {
    for (const path of ['/tickets', '/secrets', '/audit']) {
      const res = await http(fe, 'GET', path, TEAM_A_ADMIN);
      assert.equal(res.status, 403, path);
      assert.match(res.text, /limited to jobs matching 'team-a-\*'/);
    }
    assert.equal((await http(fe, 'POST', '/tickets', TEAM_A_ADMIN, JSON.stringify({ kind: 'execute-shell', refs: { job: 'team-a-api' } }))).status, 403);
    assert.equal((await http(fe, 'GET', '/tickets', ROOT)).status, 200);
  });
});
