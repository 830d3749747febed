import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runDistci, startFrontendProc, type FrontendProc } from '../../src/harness/processes.js';
import { tempDir } from '../support/embedded.js';

const ADMIN = 'cli-admin-token-0123456789';

describe('distci CLI', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let fe: FrontendProc;
  before(async () => {
    dir = await tempDir();
    fe = await startFrontendProc(['--data', dir.path], { DISTCI_AUTH_TOKENS: `root:admin:${ADMIN}` });
  });
  after(async () => {
    await fe.stop();
    await dir.remove();
  });

  const bad: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
    ['a port out of range', ['frontend', '--port', '70000'], {}, /invalid setting port from --port: .*65535/],
    ['a non-numeric variable', ['frontend'], { DISTCI_PORT: 'eighty' }, /DISTCI_PORT: port must be a whole number/],
    ['an unknown coordinator scheme', ['frontend', '--coordinator', 'redis://x'], {}, /invalid setting coordinator from --coordinator/],
    ['a short token', ['frontend'], { DISTCI_AUTH_TOKENS: 'a:admin:short' }, /invalid setting tokens\/0\/token/],
    ['an unknown role', ['frontend'], { DISTCI_AUTH_TOKENS: 'a:root:0123456789abcdef0' }, /invalid setting tokens\/0\/role/],
    ['a public address without tokens', ['frontend', '--host', '0.0.0.0'], {}, /refusing to listen on 0.0.0.0 without tokens/],
    ['an unknown worker kind', ['worker', '--kinds', 'teleport'], {}, /unknown worker kind 'teleport'/],
    ['a missing config file', ['frontend', '--config', '/nonexistent/distci.yaml'], {}, /config file \/nonexistent\/distci.yaml: ENOENT/],
  ];
  for (const [what, args, env, message] of bad) {
    it(`reports ${what} in one clear line and exits 2`, async () => {
      const { code, stderr } = await runDistci(args, env);
      assert.equal(code, 2);
      const errorLines = stderr.split('\n').filter(Boolean);
      assert.equal(errorLines.length, 1, stderr);
      assert.match(errorLines[0]!, message);
      assert.doesNotMatch(stderr, /at .*\.js:\d+/, 'no stack trace');
    });
  }

  it('reads settings from a config file, overridden by the environment', async () => {
    const file = join(dir.path, 'distci.yaml');
    await writeFile(file, 'port: 70000\n');
    const fromFile = await runDistci(['frontend', '--config', file]);
    assert.match(fromFile.stderr, /from config file .*distci.yaml/);
    const overridden = await runDistci(['frontend', '--config', file], { DISTCI_PORT: '-1' });
    assert.match(overridden.stderr, /from DISTCI_PORT/);
  });

  it('posts, lists and shows tickets with a token from DISTCI_TOKEN', async () => {
    const env = { DISTCI_SERVER: fe.url, DISTCI_TOKEN: ADMIN };
    const posted = await runDistci(['tickets', 'post', '--kind', 'execute-shell', '--payload', '{"script":"true"}', '--priority', '3'], env);
    assert.equal(posted.code, 0, posted.stderr);
    const ticket = JSON.parse(posted.stdout) as { id: string; priority: number; status: string };
    assert.equal(ticket.priority, 3);
    assert.equal(ticket.status, 'pending');
    const listed = await runDistci(['tickets', 'list', '--status', 'pending'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^${ticket.id}\\s+execute-shell\\s+pending`, 'm'));
    const shown = await runDistci(['tickets', 'show', ticket.id], env);
    assert.equal((JSON.parse(shown.stdout) as { id: string }).id, ticket.id);
  });

  it('says why a request was refused: no token, or a bad one', async () => {
    const noToken = await runDistci(['tickets', 'list'], { DISTCI_SERVER: fe.url });
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /unauthorized: missing bearer token/);
    const missing = await runDistci(['tickets', 'show', '9999'], { DISTCI_SERVER: fe.url, DISTCI_TOKEN: ADMIN });
    assert.match(missing.stderr, /not_found: ticket '9999' does not exist/);
  });
});
