import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keyId } from '../../src/core/crypto/keyring.js';
import { DISTCI_BIN, runDistci, startFrontendProc, type FrontendProc } from '../../src/harness/processes.js';
import { tempDir } from '../support/embedded.js';

const ADMIN = 'secrets-cli-admin-token-0123456789';
const VALUE = `cli-s3cr3t-${randomBytes(12).toString('hex')}`;

/** A distci command fed `stdin`, run to the end. */
function runWithInput(args: string[], env: NodeJS.ProcessEnv, stdin: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [DISTCI_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('distci secrets and audit commands', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let fe: FrontendProc;
  let env: NodeJS.ProcessEnv;
  const key1 = randomBytes(32);
  const key2 = randomBytes(32);
  const keyFile = () => join(dir.path, 'secrets.keys');
  const start = (keys: Buffer[]) =>
    writeFile(keyFile(), `# first seals\n${keys.map((k) => k.toString('base64')).join('\n')}\n`, { mode: 0o600 }).then(() =>
      startFrontendProc(['--data', dir.path, '--secrets-key-file', keyFile()], { DISTCI_AUTH_TOKENS: `root:admin:${ADMIN}`, DISTCI_LOG_LEVEL: 'trace' }),
    );
  before(async () => {
    dir = await tempDir();
    fe = await start([key1]);
    env = { DISTCI_SERVER: fe.url, DISTCI_TOKEN: ADMIN };
  });
  after(async () => {
    await fe.stop();
    await dir.remove();
  });

  it('sets a secret from standard input and lists it without its value, which no output or log holds', async () => {
    const set = await runWithInput(['secrets', 'set', 'DEPLOY_TOKEN', '--jobs', 'deploy-*'], env, `${VALUE}\n`);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, `secret DEPLOY_TOKEN created (key ${keyId(key1)}, jobs deploy-*)\n`);
    const list = await runDistci(['secrets', 'list'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^DEPLOY_TOKEN\\s+store\\s+${keyId(key1)}\\s+deploy-\\*\\s+\\S+\\s+root$`, 'm'));
    const json = await runDistci(['secrets', 'list', '--json'], env);
    const audit = await runDistci(['audit', 'list'], env);
    assert.match(audit.stdout, /^1\s+\S+\s+root \(admin\)\s+secret\.set\s+secret DEPLOY_TOKEN\s/m);
    for (const output of [set, list, json, audit]) assert.ok(!`${output.stdout}${output.stderr}`.includes(VALUE));
    assert.ok(fe.stderr().length > 0);
    assert.ok(!fe.stderr().includes(VALUE), 'value in the frontend log');
  });

  it('refuses an empty value and a bad name before sending anything', async () => {
    const empty = await runWithInput(['secrets', 'set', 'EMPTY'], env, '');
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /no secret value on standard input/);
    const bad = await runWithInput(['secrets', 'set', '1-bad'], env, 'x');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /secret name '1-bad' is invalid/);
    const listed = await runDistci(['secrets', 'list', '--json'], env);
    assert.deepEqual((JSON.parse(listed.stdout) as { secrets: { name: string }[] }).secrets.map((s) => s.name), ['DEPLOY_TOKEN']);
  });

  it('rotates to a new first key in the key file, then runs on the new key alone', async () => {
    await fe.stop();
    fe = await start([key2, key1]);
    env = { DISTCI_SERVER: fe.url, DISTCI_TOKEN: ADMIN };
    const rotated = await runDistci(['secrets', 'rotate'], env);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.equal(rotated.stdout, `sealed with key ${keyId(key2)}: 1 re-sealed, 0 already current\n`);
    await fe.stop();
    fe = await start([key2]);
    env = { DISTCI_SERVER: fe.url, DISTCI_TOKEN: ADMIN };
    const again = await runDistci(['secrets', 'rotate'], env);
    assert.equal(again.stdout, `sealed with key ${keyId(key2)}: 0 re-sealed, 1 already current\n`);
    const deleted = await runDistci(['secrets', 'delete', 'DEPLOY_TOKEN'], env);
    assert.equal(deleted.code, 0, deleted.stderr);
    const actions = await runDistci(['audit', 'list', '--actor', 'root', '--json'], env);
    assert.deepEqual((JSON.parse(actions.stdout) as { entries: { action: string }[] }).entries.map((e) => e.action), ['secret.set', 'secrets.rotate', 'secrets.rotate', 'secret.delete']);
  });

  it('says clearly that a frontend without a key cannot store secrets', async () => {
    const other = await tempDir();
    const keyless = await startFrontendProc(['--data', other.path], { DISTCI_AUTH_TOKENS: `root:admin:${ADMIN}` });
    try {
      const refused = await runWithInput(['secrets', 'set', 'X'], { DISTCI_SERVER: keyless.url, DISTCI_TOKEN: ADMIN }, 'value');
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /conflict: this frontend has no secrets key, so it cannot store secrets: start every frontend with --secrets-key-file/);
    } finally {
      await keyless.stop();
      await other.remove();
    }
  });

  const badKeys: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
    ['a key of the wrong length', [], { DISTCI_SECRETS_KEY: randomBytes(16).toString('base64') }, /invalid secrets key from DISTCI_SECRETS_KEY.*key 1 is not 32 bytes of base64 \(it decodes to 16 bytes\)/],
    ['a missing key file', ['--secrets-key-file', '/nonexistent/keys'], {}, /secrets key file \/nonexistent\/keys: ENOENT/],
    ['keys given twice', ['--secrets-key-file', '/nonexistent/keys'], { DISTCI_SECRETS_KEY: randomBytes(32).toString('base64') }, /secrets keys are given twice/],
  ];
  for (const [what, args, keyEnv, message] of badKeys) {
    it(`refuses to start a frontend with ${what}, in one line that shows no key`, async () => {
      const { code, stderr } = await runDistci(['frontend', '--port', '0', ...args], keyEnv);
      assert.equal(code, 2);
      const lines = stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0]!, message);
      if (keyEnv.DISTCI_SECRETS_KEY) assert.ok(!stderr.includes(keyEnv.DISTCI_SECRETS_KEY));
    });
  }
});
