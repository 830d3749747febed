/**
 * Property-based hostile input: whatever a client sends, the frontend answers with a
 * status below 500, and a refused request changes nothing.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { hmacSignature } from '../../src/core/webhooks/signatures.js';
import { startTestFrontend, type TestFrontend } from '../support/embedded.js';

const RUNS = 150;
const SECRET = 'hostile-input-webhook-secret';
const VALID_JOB = 'id: good\ntriggers: {webhook: {secretEnv: HOOK}}\nsteps:\n  - {name: c, type: git-checkout, params: {repository: "https://example.org/r.git"}}\n  - {name: s, type: execute-shell, params: {script: "true"}}\n';

/** Values of every JSON type, nested, with the field names the API knows mixed in. */
const keys = fc.constantFrom('kind', 'labels', 'payload', 'priority', 'maxAttempts', 'idempotencyKey', 'followUp', 'refs', 'workerId', 'kinds', 'waitMs', 'claimId', 'token', 'result', 'outcome', 'parameters', 'cause', 'job', 'build', 'step', '__proto__', 'constructor');
const value = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.string(),
    fc.constantFrom('execute-shell', 'build-control', 'success', '../x', 'a'.repeat(300), '\u0000', ''),
    fc.array(tie('any'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(keys, fc.string()), tie('any'), { maxKeys: 5 }),
  ),
})).any;
const body = fc.oneof(value.map((v) => JSON.stringify(v)), fc.string(), fc.constantFrom('{', '[]', '""', 'null', '{"kind":"k"', '\u0000'));

describe('hostile input never causes a 5xx or a state change', () => {
  let fe: TestFrontend;
  before(async () => {
    fe = await startTestFrontend({ bodyLimit: 64 * 1024, env: { HOOK: SECRET } });
    const res = await request(`${fe.url}/api/v1/jobs/good`, { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body: VALID_JOB });
    assert.equal(res.statusCode, 201, await res.body.text());
  });
  after(() => fe.close());

  async function send(method: string, path: string, text: string | undefined, headers: Record<string, string> = {}) {
    const res = await request(`${fe.url}${path}`, {
      method: method as 'POST',
      headers: text === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: text,
    });
    const answer = await res.body.text();
    return { status: res.statusCode, answer };
  }

  async function snapshot() {
    const tickets = await fe.coordinator.list({ limit: 1000 });
    const records = await fe.coordinator.listRecords('', { limit: 1000 });
    return JSON.stringify({ tickets: tickets.map((t) => [t.id, t.status, t.attempt]), records: records.records.map((r) => [r.key, r.version]) });
  }

  async function check(method: string, path: string, text: string | undefined, headers?: Record<string, string>) {
    const before = await snapshot();
    const { status, answer } = await send(method, path, text, headers);
    assert.ok(status < 500, `${method} ${path} ${JSON.stringify(text)?.slice(0, 200)} → ${status} ${answer.slice(0, 300)}`);
    if (status >= 400) {
      assert.match(answer, /"code":"[a-z_]+"/, 'an error has a stable code');
      assert.equal(await snapshot(), before, `a refused ${method} ${path} changed state`);
    }
  }

  for (const path of ['/api/v1/tickets', '/api/v1/tickets/claim', '/api/v1/tickets/1/renew', '/api/v1/tickets/1/complete', '/api/v1/tickets/1/release', '/api/v1/jobs/good/builds', '/api/v1/tickets/1/console']) {
    it(`POST ${path}`, async () => {
      await fc.assert(fc.asyncProperty(body, (text) => check('POST', path, text)), { numRuns: RUNS });
    });
  }

  it('PUT /api/v1/jobs/{job} with arbitrary and mutated configs', async () => {
    const mutated = fc.tuple(fc.nat(VALID_JOB.length), fc.nat(20), fc.string({ maxLength: 10 })).map(([at, cut, insert]) => VALID_JOB.slice(0, at) + insert + VALID_JOB.slice(at + cut));
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, body), fc.constantFrom('application/yaml', 'application/json'), async (text, type) => {
        const before = await snapshot();
        const res = await request(`${fe.url}/api/v1/jobs/other`, { method: 'PUT', headers: { 'content-type': type }, body: text });
        const answer = await res.body.text();
        assert.ok(res.statusCode < 500, `${JSON.stringify(text)} → ${res.statusCode} ${answer.slice(0, 300)}`);
        if (res.statusCode >= 400) assert.equal(await snapshot(), before);
        else await request(`${fe.url}/api/v1/jobs/other`, { method: 'DELETE' }).then((r) => r.body.text());
      }),
      { numRuns: RUNS },
    );
  });

  it('GET on arbitrary paths and queries', async () => {
    const segment = fc.oneof(fc.string({ maxLength: 12 }).map(encodeURIComponent), fc.constantFrom('..', '%2e%2e', 'lastSuccessful', '0', '-1', '99999999999999999999'));
    const path = fc.tuple(fc.constantFrom('/api/v1/tickets', '/api/v1/jobs', '/api/v1/jobs/good/builds', '/api/v1/jobs/good/builds/1/artifacts', '/api/v1'), fc.array(segment, { maxLength: 3 }), fc.string({ maxLength: 20 }))
      .map(([base, segs, query]) => `${base}${segs.map((s) => `/${s}`).join('')}?${encodeURIComponent(query)}=${encodeURIComponent(query)}`);
    await fc.assert(fc.asyncProperty(path, (p) => check('GET', p, undefined)), { numRuns: RUNS });
  });

  it('signed webhooks with arbitrary payloads', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom('push', 'pull_request', 'ping', 'issues'), async (text, event) => {
        await check('POST', '/api/v1/webhooks/github', text, { 'x-github-event': event, 'x-hub-signature-256': hmacSignature(SECRET, text) });
      }),
      { numRuns: RUNS },
    );
  });
});
