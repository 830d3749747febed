import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { startTestFrontend, type TestFrontend } from '../support/embedded.js';

const ADMIN = 'admin-secret-0123456789';
const USER = 'user-secret-0123456789';
const WORKER = 'worker-secret-0123456789';
const VIEWER = 'viewer-secret-0123456789';

async function call(fe: TestFrontend, method: string, path: string, opts: { body?: string; token?: string | null; type?: string } = {}) {
  const headers: Record<string, string> = {};
  if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? ADMIN}`;
  if (opts.body !== undefined) headers['content-type'] = opts.type ?? 'application/json';
  const res = await request(`${fe.url}${path}`, { method: method as 'POST', headers, body: opts.body });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? (JSON.parse(text) as { error?: { code: string; message: string } }) : null };
}

describe('frontend: bad input and access control', () => {
  let fe: TestFrontend;
  before(async () => {
    fe = await startTestFrontend({
      bodyLimit: 4096,
      tokens: [
        { name: 'root', role: 'admin', token: ADMIN },
        { name: 'alice', role: 'user', token: USER },
        { name: 'w1', role: 'worker', token: WORKER },
        { name: 'eve', role: 'viewer', token: VIEWER },
      ],
    });
  });
  after(() => fe.close());

  const refused: [string, { method: string; path: string; body?: string; type?: string }, number, string][] = [
    ['malformed JSON', { method: 'POST', path: '/api/v1/tickets', body: '{"kind":' }, 400, 'malformed_json'],
    ['an unknown field', { method: 'POST', path: '/api/v1/tickets', body: '{"kind":"k","colour":"red"}' }, 400, 'invalid_request'],
    ['a wrong type', { method: 'POST', path: '/api/v1/tickets', body: '{"kind":"k","priority":"5"}' }, 400, 'invalid_request'],
    ['a missing field', { method: 'POST', path: '/api/v1/tickets', body: '{"labels":[]}' }, 400, 'invalid_request'],
    ['an invalid kind name', { method: 'POST', path: '/api/v1/tickets', body: '{"kind":"../etc"}' }, 400, 'invalid_request'],
    ['an invalid label', { method: 'POST', path: '/api/v1/tickets', body: '{"kind":"k","labels":["a b"]}' }, 400, 'invalid_request'],
    ['a priority out of range', { method: 'POST', path: '/api/v1/tickets', body: '{"kind":"k","priority":100000}' }, 400, 'invalid_request'],
    ['an oversized body', { method: 'POST', path: '/api/v1/tickets', body: JSON.stringify({ kind: 'k', payload: 'x'.repeat(5000) }) }, 413, 'body_too_large'],
    ['a non-JSON media type', { method: 'POST', path: '/api/v1/tickets', body: 'kind=k', type: 'text/plain' }, 415, 'unsupported_media_type'],
    ['an array body', { method: 'POST', path: '/api/v1/tickets', body: '[1,2]' }, 400, 'invalid_request'],
    ['an unknown ticket id', { method: 'GET', path: '/api/v1/tickets/424242' }, 404, 'not_found'],
    ['a malformed ticket id', { method: 'GET', path: '/api/v1/tickets/a%2F..' }, 400, 'invalid_request'],
    ['a bad status filter', { method: 'GET', path: '/api/v1/tickets?status=exploded' }, 400, 'invalid_request'],
    ['a bad limit', { method: 'GET', path: '/api/v1/tickets?limit=0' }, 400, 'invalid_request'],
    ['an unknown query parameter', { method: 'GET', path: '/api/v1/tickets?colour=red' }, 400, 'invalid_request'],
    ['a claim without kinds', { method: 'POST', path: '/api/v1/tickets/claim', body: '{"workerId":"w","kinds":[]}' }, 400, 'invalid_request'],
    ['a renew with a bad token type', { method: 'POST', path: '/api/v1/tickets/1/renew', body: '{"token":"1"}' }, 400, 'invalid_request'],
    ['a completion with an unknown outcome', { method: 'POST', path: '/api/v1/tickets/1/complete', body: '{"token":1,"result":{"outcome":"meh"}}' }, 400, 'invalid_request'],
    ['an unknown route', { method: 'GET', path: '/api/v1/nothing-here' }, 404, 'route_not_found'],
  ];

  for (const [what, req, status, code] of refused) {
    it(`refuses ${what} with ${status} ${code} and stores nothing`, async () => {
      const res = await call(fe, req.method, req.path, req);
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.equal(res.body?.error?.code, code);
      assert.ok((res.body?.error?.message ?? '').length > 10, 'the message says what to fix');
      assert.deepEqual(await fe.coordinator.list({}), []);
    });
  }

  it('names the offending field in a validation error', async () => {
    const res = await call(fe, 'POST', '/api/v1/tickets', { body: '{"kind":"k","maxAttempts":0}' });
    assert.match(res.body?.error?.message ?? '', /body\.maxAttempts/);
  });

  it('answers 401 without a token and with an unknown one', async () => {
    const missing = await call(fe, 'GET', '/api/v1/tickets', { token: null });
    assert.equal(missing.status, 401);
    assert.equal(missing.body?.error?.code, 'unauthorized');
    const wrong = await call(fe, 'GET', '/api/v1/tickets', { token: 'not-a-real-token-at-all' });
    assert.equal(wrong.status, 401);
    const post = await call(fe, 'POST', '/api/v1/tickets', { token: null, body: '{"kind":"k"}' });
    assert.equal(post.status, 401);
    assert.deepEqual(await fe.coordinator.list({}), []);
  });

  it('answers 403 when the role may not do it, and lets each role do its part', async () => {
    const userPost = await call(fe, 'POST', '/api/v1/tickets', { token: USER, body: '{"kind":"k"}' });
    assert.equal(userPost.status, 403);
    assert.equal(userPost.body?.error?.code, 'forbidden');
    const userClaim = await call(fe, 'POST', '/api/v1/tickets/claim', { token: USER, body: '{"workerId":"u","kinds":["k"]}' });
    assert.equal(userClaim.status, 403);
    assert.deepEqual(await fe.coordinator.list({}), []);
    assert.equal((await call(fe, 'GET', '/api/v1/tickets', { token: USER })).status, 200);
    assert.equal((await call(fe, 'POST', '/api/v1/tickets', { token: WORKER, body: '{"kind":"k"}' })).status, 201);
    assert.equal((await call(fe, 'POST', '/api/v1/tickets/claim', { token: WORKER, body: '{"workerId":"w","kinds":["k"]}' })).status, 200);
    await fe.coordinator.list({}).then((t) => assert.equal(t.length, 1));
  });

  it('lets a viewer read and nothing else', async () => {
    assert.equal((await call(fe, 'GET', '/api/v1/tickets', { token: VIEWER })).status, 200);
    assert.equal((await call(fe, 'GET', '/api/v1/jobs', { token: VIEWER })).status, 200);
    for (const [method, path, body] of [
      ['POST', '/api/v1/tickets', '{"kind":"k"}'],
      ['POST', '/api/v1/jobs/x/builds', '{}'],
      ['POST', '/api/v1/tickets/claim', '{"workerId":"v","kinds":["k"]}'],
    ] as const) {
      const res = await call(fe, method, path, { token: VIEWER, body });
      assert.equal(res.status, 403, `${method} ${path}`);
    }
  });

  it('serves health, readiness and the OpenAPI description without a token', async () => {
    assert.equal((await call(fe, 'GET', '/healthz', { token: null })).status, 200);
    const ready = await call(fe, 'GET', '/readyz', { token: null });
    assert.equal(ready.status, 200);
    const spec = (await call(fe, 'GET', '/api/v1/openapi.json', { token: null })) as unknown as { status: number; body: { openapi: string; paths: Record<string, unknown> } };
    assert.equal(spec.status, 200);
    assert.match(spec.body.openapi, /^3\./);
    assert.ok(spec.body.paths['/api/v1/tickets/claim']);
    assert.ok(spec.body.paths['/api/v1/tickets/{id}/complete']);
  });
});
