/**
 * Signing in and out of the web UI when the frontend has tokens, and buttons shown only
 * to roles that may use them.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { applyJob, launchBrowser, screenshot, startDistci, type Distci, type TestBrowser } from './browser.js';
import { unlabelledControls } from './support.js';

const ADMIN = 'admin-secret-0123456789';
const USER = 'user-secret-0123456789';
const WORKER = 'worker-secret-0123456789';

const JOB = `
id: packaged
steps:
  - {name: make, type: execute-shell, params: {script: "mkdir -p out && printf 'built\\\\n' > out/result.txt && echo made it"}}
  - {name: publish, type: publish-artifacts, params: {paths: ["out/*.txt"]}}
`;

describe('web UI with tokens', () => {
  let d: Distci;
  let b: TestBrowser;

  before(async () => {
    d = await startDistci({ DISTCI_AUTH_TOKENS: `ops:admin:${ADMIN},dana:user:${USER},robot:worker:${WORKER}` });
    b = await launchBrowser();
    await applyJob(d, 'packaged', JOB, ADMIN);
  });
  after(async () => {
    await b?.close();
    await d?.stop();
  });

  async function signIn(token: string): Promise<void> {
    const { page } = b;
    await page.getByLabel('Access token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('asks for a token, refuses a wrong one, signs in, streams and downloads with it, and signs out', async () => {
    const { page } = b;
    await page.goto(d.url);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(await page.getByTestId('jobs-table').count(), 0, 'nothing is shown before signing in');
    assert.deepEqual(await unlabelledControls(page), []);
    await screenshot(page, 'sign-in');

    await signIn('not-a-token');
    await page.getByRole('alert').getByText('Unknown or revoked token.').waitFor();

    await signIn(USER);
    await page.getByTestId('whoami').getByText('dana · user').waitFor();
    await page.getByRole('link', { name: 'packaged', exact: true }).click();
    // A user may trigger and edit jobs (GRANTS in src/frontend/auth.ts).
    await page.getByRole('tab', { name: 'Edit' }).waitFor();
    await page.getByRole('button', { name: 'Build now' }).click();
    await page.waitForURL(/#\/jobs\/packaged\/builds\/1$/);
    // The console stream and the download carry the token (neither EventSource nor a link could).
    await page.getByTestId('console').getByText('made it').waitFor();
    await page.locator('[data-build-status=success]').waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'out/result.txt' }).click()]);
    assert.equal(await readFile((await download.path())!, 'utf8'), 'built\n');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(await page.evaluate(`localStorage.getItem('distci.token')`), null);
  });

  it('hides what a role may not do', async () => {
    const { page } = b;
    await page.goto(`${d.url}/#/jobs/packaged`);
    await signIn(WORKER);
    await page.getByTestId('whoami').getByText('robot · worker').waitFor();
    await page.getByRole('tab', { name: 'Config' }).waitFor();
    // A worker token may trigger builds but not change jobs: no Edit tab, even by URL.
    assert.equal(await page.getByRole('tab', { name: 'Edit' }).count(), 0);
    await page.goto(`${d.url}/#/jobs/packaged/edit`);
    await page.getByTestId('config-source').waitFor();
    assert.equal(await page.locator('#config-text').count(), 0);
    await page.getByRole('button', { name: 'Sign out' }).click();
  });
});
