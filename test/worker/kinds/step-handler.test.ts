import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { KindsHarness, MemoryStepApi, craftTar, seedWorkspace, stepPayload, wsKey } from './support.js';

const shell = (step: string, script: string, more = {}) => stepPayload('execute-shell', step, { script }, more);

describe('step handler: workspaces, local cache, console, secrets', () => {
  let h: KindsHarness;
  before(async () => (h = await KindsHarness.start(new MemoryStepApi(), { cacheSize: 2 })));
  after(() => h.close());

  it('uploads the workspace after a success and names it in the result', async () => {
    const { result, console } = await h.run(shell('produce', 'echo built > out.txt'));
    assert.equal(result.outcome, 'success');
    assert.deepEqual((result.data as { workspace: unknown }).workspace, { step: 'produce', attempt: 1 });
    assert.ok(h.api.workspaces.has(wsKey('app', 1, 'produce', 1)));
    assert.match(console, /workspace uploaded/);
  });

  it('takes the previous step\'s workspace over from the local cache without downloading it', async () => {
    await h.run(shell('one', 'echo from-one > one.txt'));
    const before = h.api.getWorkspaceCalls;
    const { result, console } = await h.run(shell('two', 'cat one.txt', { inputs: [{ step: 'one', attempt: 1 }] }));
    assert.equal(result.outcome, 'success');
    assert.equal(h.api.getWorkspaceCalls, before, 'no download');
    assert.match(console, /reused from this worker's cache/);
    assert.match(console, /from-one/);
    assert.equal(existsSync(h.dirFor('one')), false, 'the cached directory was moved, not copied');
  });

  it('hands an unchanged workspace on without uploading it: the result names the input, and the next step still sees it', async () => {
    await h.run(shell('made', 'echo made > made.txt'));
    const uploads = h.api.workspaces.size;
    const { result, console } = await h.run(shell('reads', 'cat made.txt', { inputs: [{ step: 'made', attempt: 1 }] }));
    assert.equal(result.outcome, 'success');
    assert.deepEqual((result.data as { workspace: unknown }).workspace, { step: 'made', attempt: 1 });
    assert.equal(h.api.workspaces.size, uploads, 'nothing uploaded');
    assert.match(console, /workspace unchanged: the next steps get 'made' \(attempt 1\)/);
    const downloads = h.api.getWorkspaceCalls;
    const here = await h.run(shell('here', 'cat made.txt > copy.txt', { inputs: [{ step: 'made', attempt: 1 }] }));
    assert.match(here.console, /reused from this worker's cache/, 'the unchanged directory was kept for the next step');
    assert.equal(h.api.getWorkspaceCalls, downloads);
    const other = await h.sibling();
    try {
      const there = await other.run(shell('there', 'cat made.txt', { inputs: [{ step: 'made', attempt: 1 }] }));
      assert.equal(there.result.outcome, 'success');
      assert.match(there.console, /downloaded and extracted/);
      assert.match(there.console, /\nmade\n/);
    } finally {
      await other.close();
    }
  });

  it('uploads a workspace the step changed, even with the same size and the old mtime put back', async () => {
    await h.run(shell('orig', 'echo aaaa > f.txt'));
    const script = 'touch -r f.txt ref; echo bbbb > f.txt; touch -r ref f.txt; rm ref';
    const { result, console } = await h.run(shell('sneaky', script, { inputs: [{ step: 'orig', attempt: 1 }] }));
    assert.equal(result.outcome, 'success');
    assert.deepEqual((result.data as { workspace: unknown }).workspace, { step: 'sneaky', attempt: 1 });
    assert.ok(h.api.workspaces.has(wsKey('app', 1, 'sneaky', 1)));
    assert.match(console, /workspace uploaded/);
    const next = await h.run(shell('after-sneaky', 'cat f.txt', { inputs: [{ step: 'sneaky', attempt: 1 }] }));
    assert.match(next.console, /\nbbbb\n/);
  });

  it('downloads the workspace on another worker (a cache miss) and extracts it', async () => {
    await h.run(shell('base', 'echo from-base > base.txt'));
    const other = await h.sibling();
    try {
      const before = h.api.getWorkspaceCalls;
      const { result, console } = await other.run(shell('next', 'cat base.txt', { inputs: [{ step: 'base', attempt: 1 }] }));
      assert.equal(result.outcome, 'success');
      assert.equal(h.api.getWorkspaceCalls, before + 1);
      assert.match(console, /downloaded and extracted/);
      assert.match(console, /from-base/);
    } finally {
      await other.close();
    }
  });

  it('extracts several inputs in order, later ones over earlier ones, even when one is cached', async () => {
    await seedWorkspace(h.api, 'left', { 'shared.txt': 'left', 'left.txt': 'L' });
    await seedWorkspace(h.api, 'right', { 'shared.txt': 'right', 'right.txt': 'R' });
    const before = h.api.getWorkspaceCalls;
    const { result, console } = await h.run(shell('join', 'cat shared.txt left.txt right.txt', { inputs: [{ step: 'left', attempt: 1 }, { step: 'right', attempt: 1 }] }));
    assert.equal(result.outcome, 'success');
    assert.equal(h.api.getWorkspaceCalls, before + 2);
    assert.match(console, /rightLR/);
  });

  it('keeps at most cacheSize workspaces; an evicted one is downloaded again', async () => {
    await h.run(shell('e1', 'echo 1 > e1'));
    await h.run(shell('e2', 'echo 2 > e2'));
    await h.run(shell('e3', 'echo 3 > e3'));
    assert.equal(existsSync(h.dirFor('e1')), false, 'the oldest was evicted');
    assert.equal(existsSync(h.dirFor('e3')), true);
    const before = h.api.getWorkspaceCalls;
    const { result } = await h.run(shell('after-e1', 'cat e1', { inputs: [{ step: 'e1', attempt: 1 }] }));
    assert.equal(result.outcome, 'success');
    assert.equal(h.api.getWorkspaceCalls, before + 1);
  });

  it('does not keep or upload the workspace of a failed step', async () => {
    const { result } = await h.run(shell('broken', 'touch half; exit 2'));
    assert.equal(result.code, 'exit_2');
    assert.equal(h.api.workspaces.has(wsKey('app', 1, 'broken', 1)), false);
    assert.equal(existsSync(h.dirFor('broken')), false);
  });

  it('fails with unsafe_archive when an input archive is unsafe, and runs nothing', async () => {
    h.api.workspaces.set(wsKey('app', 1, 'evil', 1), craftTar([{ path: '../../escape.txt', body: 'x' }]));
    const { result } = await h.run(shell('victim', 'echo ran > ran.txt', { inputs: [{ step: 'evil', attempt: 1 }] }));
    assert.equal(result.outcome, 'failure');
    assert.equal(result.code, 'unsafe_archive');
    assert.equal(existsSync(h.dirFor('victim')), false);
  });

  it('ends with an infrastructure error when an input workspace is not in the store', async () => {
    const { result } = await h.run(shell('orphan', 'true', { inputs: [{ step: 'never-ran', attempt: 3 }] }));
    assert.equal(result.outcome, 'error');
    assert.equal(result.code, 'workspace_missing');
  });

  it('refuses a malformed payload or a payload of another type with bad_params, before doing anything', async () => {
    const calls = h.api.secretsCalls;
    for (const payload of [null, 'x', { ...shell('p', 'true'), job: '' }, { ...shell('p', 'true'), build: 0 }, { ...shell('p', 'true'), inputs: [{ step: 'a' }] }, { ...shell('p', 'true'), env: { A: 1 } }, { ...shell('p', 'true'), params: [] }]) {
      const { result } = await h.run(payload, { kind: 'execute-shell' });
      assert.equal(result.outcome, 'failure', JSON.stringify(payload));
      assert.equal(result.code, 'bad_params');
    }
    const wrongType = await h.run(stepPayload('publish-artifacts', 'p', { paths: ['x'] }), { kind: 'execute-shell' });
    assert.equal(wrongType.result.code, 'bad_params');
    assert.equal(h.api.secretsCalls, calls);
  });

  it('writes console chunks with seq 0, 1, 2... in order, ending with the outcome', async () => {
    const { console, ticket } = await h.run(shell('chatty', 'for i in $(seq 1 300); do echo "line $i"; done'));
    const seqs = [...(h.api.consoles.get(ticket.id)?.keys() ?? [])];
    assert.deepEqual(seqs, seqs.map((_, i) => i));
    const lines = console.split('\n').filter((l) => l.startsWith('line '));
    assert.deepEqual(lines, Array.from({ length: 300 }, (_, i) => `line ${i + 1}`));
    assert.match(console.trimEnd().split('\n').at(-1) ?? '', /^\[distci\] success after [\d.]+ s$/);
  });
});

describe('step handler: secrets', () => {
  let h: KindsHarness;
  const SECRET = 'hunter2-Sup3rS3cret';
  before(async () => {
    h = await KindsHarness.start();
    h.api.secretValues = { DEPLOY_KEY: SECRET, OTHER: 'not-asked-for' };
  });
  after(() => h.close());

  it('fetches secrets only when the payload names some', async () => {
    await h.run(shell('nosecrets', 'true'));
    assert.equal(h.api.secretsCalls, 0);
  });

  it('gives secrets to the script as variables and masks them in the console, even split across chunks and base64-encoded', async () => {
    const script = [
      'echo "plain: $DEPLOY_KEY"',
      'printf "split: %s" "${DEPLOY_KEY:0:7}"; sleep 0.2; printf "%s\\n" "${DEPLOY_KEY:7}"',
      'echo "b64: $(printf %s "$DEPLOY_KEY" | base64)"',
      'echo "basic: $(printf %s "user:$DEPLOY_KEY" | base64)"',
      'echo "other: [${OTHER:-unset}]"',
      'echo "$DEPLOY_KEY" >&2; exit 5',
    ].join('\n');
    const { result, console, ticket } = await h.run(shell('deploy', script, { secrets: ['DEPLOY_KEY'] }));
    assert.equal(result.code, 'exit_5');
    assert.ok(h.api.consoles.get(ticket.id)!.size >= 2, 'output went out in several chunks');
    assert.ok(!console.includes(SECRET), console);
    assert.ok(!console.includes(SECRET.slice(0, 7)) && !console.includes(SECRET.slice(7)), 'no part of the split secret leaked');
    assert.ok(!console.includes(Buffer.from(SECRET).toString('base64').slice(0, 20)), console);
    assert.match(console, /plain: \*\*\*\n/);
    assert.match(console, /split: \*\*\*\n/);
    assert.match(console, /b64: \*\*\*/);
    assert.match(console, /other: \[unset\]/);
  });

  it('fails clearly when a named secret does not exist', async () => {
    const { result } = await h.run(shell('missing', 'true', { secrets: ['NOPE'] }));
    assert.equal(result.outcome, 'failure');
    assert.equal(result.code, 'secret_missing');
    assert.match(result.message ?? '', /NOPE/);
  });
});
