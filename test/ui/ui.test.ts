/**
 * The web UI in a real browser (Debian's Chromium) against a real `distci up`: jobs,
 * triggering with parameters, the pipeline graph and live console while a build runs,
 * artifacts, cancel, editing a config with validation errors, the queue page.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { applyJob, launchBrowser, screenshot, startDistci, type Distci, type TestBrowser } from './browser.js';
import { buildEnds, consoleText, getBuild, trigger, unlabelledControls } from './support.js';
import { eventually } from '../support/wait.js';

const DEMO = `
id: demo
description: Prepares, tests on two Node versions, lints, packages and publishes.
parameters: {GREETING: {default: hello, description: what the package says}}
steps:
  - name: prepare
    type: execute-shell
    params: {script: "printf '\\\\033[1;34m==> preparing\\\\033[0m\\\\n'; mkdir -p out"}
  - name: test
    type: execute-shell
    needs: [prepare]
    matrix: {node: ["18", "20"]}
    params: {script: "for i in 1 2 3 4 5 6 7 8 9 10; do printf '\\\\033[32m✓\\\\033[0m case %s on node %s\\\\n' $i $MATRIX_NODE; sleep 0.4; done"}
  - name: lint
    type: execute-shell
    needs: [prepare]
    params: {script: "printf '\\\\033[33mwarning\\\\033[0m: 0 problems\\\\n'"}
  - name: package
    type: execute-shell
    needs: [test, lint]
    params: {script: "mkdir -p dist && echo \\"$GREETING from demo\\" > dist/greeting.txt && tar czf dist/demo.tgz out dist/greeting.txt"}
  - name: publish
    type: publish-artifacts
    params: {paths: ["dist/*"]}
`;

const SLEEPY = `
id: sleepy
description: Sleeps for two minutes unless cancelled.
steps:
  - {name: wait, type: execute-shell, params: {script: "echo waiting; sleep 120"}}
`;

const CHATTY = `
id: chatty
description: Writes a lot, then a line every 200 ms.
steps:
  - name: talk
    type: execute-shell
    params: {script: "for i in $(seq 1 300); do echo \\"line $i of the first burst\\"; done; for i in $(seq 1 40); do echo \\"slow line $i\\"; sleep 0.2; done"}
`;

describe('web UI', () => {
  let d: Distci;
  let b: TestBrowser;

  before(async () => {
    d = await startDistci();
    b = await launchBrowser();
    for (const [name, yaml] of [['demo', DEMO], ['sleepy', SLEEPY], ['chatty', CHATTY]] as const) await applyJob(d, name, yaml);
    for (let i = 1; i <= 12; i++) {
      await applyJob(d, `service-${String(i).padStart(2, '0')}`, `description: service number ${i}\nsteps: [{name: build, type: execute-shell, params: {script: "exit ${i % 4 === 0 ? 1 : 0}"}}]\n`);
    }
  });
  after(async () => {
    await b?.close();
    await d?.stop();
  });

  it('serves the UI with revalidated HTML, year-long cached hashed assets and a strict CSP', async () => {
    const res = await d.api('/', { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await res.text();
    const script = /src="(\/ui\/main-[A-Z0-9]{8}\.js)"/.exec(html)?.[1];
    assert.ok(script, html);
    const asset = await d.api(script);
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const again = await d.api(script, { headers: { 'if-none-match': asset.headers.get('etag') ?? '' } });
    assert.equal(again.status, 304);
    assert.equal((await d.api('/ui/nothing-here.js')).status, 404);
    // The API is where it was.
    assert.equal((await d.api('/api/v1/jobs/demo')).status, 200);
  });

  it('lists jobs with their last build and trend, and searches them on the server', async () => {
    for (let i = 1; i <= 4; i++) await buildEnds(d, `service-0${i}`, await trigger(d, `service-0${i}`));
    await buildEnds(d, 'service-01', await trigger(d, 'service-01'));
    const { page } = b;
    await page.goto(d.url);
    const rows = page.locator('[data-testid=jobs-table] tbody tr');
    await eventually(async () => assert.equal(await rows.count(), 16)); // with `hello`, which `distci up` registers
    const first = page.locator('tr', { has: page.getByRole('link', { name: 'service-01', exact: true }) });
    await first.getByText('success').waitFor();
    await first.locator('.trend .bar.s-success').nth(1).waitFor(); // two builds in the trend
    await page.locator('tr', { has: page.getByRole('link', { name: 'service-04', exact: true }) }).getByText('failure').waitFor();
    await screenshot(page, 'jobs');

    await page.getByLabel('Search jobs').fill('service number 1');
    await page.locator('table[data-query="service number 1"]').waitFor();
    await eventually(async () => assert.deepEqual(await rows.locator('td:first-child a').allInnerTexts(), ['service-01', 'service-10', 'service-11', 'service-12']));
    assert.match(page.url(), /#\/jobs\?q=service\+number\+1$/);
    assert.deepEqual(await unlabelledControls(page), []);
  });

  it('goes from the jobs list to a job with the keyboard alone', async () => {
    const { page } = b;
    await page.goto(`${d.url}/#/jobs`);
    await page.locator('table[data-query=""] tbody tr').first().waitFor();
    for (let i = 0; i < 15 && (await page.evaluate('document.activeElement && document.activeElement.id')) !== 'job-search'; i++) await page.keyboard.press('Tab');
    await page.keyboard.type('chatty');
    await page.locator('table[data-query="chatty"] tbody tr').first().waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement.textContent'), 'chatty');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'chatty', level: 1 }).waitFor();
    assert.equal(await page.evaluate('document.activeElement.id'), 'main');
  });

  it('triggers a build with parameters, draws the pipeline, and streams its console live', async () => {
    const { page } = b;
    await page.goto(`${d.url}/#/jobs/demo/config`);
    // The config, highlighted.
    await page.locator('[data-testid=config-source] .tok-key', { hasText: 'matrix' }).waitFor();
    await page.getByRole('button', { name: 'Build with parameters…' }).click();
    await page.getByLabel('GREETING').fill('bonjour');
    await page.getByRole('button', { name: 'Build', exact: true }).click();
    await page.waitForURL(/#\/jobs\/demo\/builds\/1$/);

    const node = (step: string) => page.locator(`[data-testid=pipeline] [data-step="${step}"]`);
    await node('test[node=18]').and(page.locator('[data-status=running]')).waitFor();
    // The graph: matrix expansions boxed together, every planned step drawn, edges between.
    assert.equal(await page.locator('[data-testid=pipeline] .group').count(), 1);
    assert.equal(await page.locator('[data-testid=pipeline] .node').count(), 6);
    assert.equal(await page.locator('[data-testid=pipeline] path.edge').count(), 5);
    assert.equal(await node('prepare').getAttribute('data-status'), 'success');

    // The console grows while the page stays put: SSE, no reload.
    await page.locator('[data-testid=console]').getByText('case 2 on node 18').waitFor();
    const box = await page.locator('[data-testid=console]').boundingBox();
    const earlier = (await consoleText(page)).length;
    await page.locator('[data-testid=console]').getByText('case 6 on node 20').waitFor();
    assert.ok((await consoleText(page)).length > earlier);
    assert.deepEqual(await page.locator('[data-testid=console]').boundingBox(), box, 'streaming output must not move or resize the console');
    // ANSI colours become classes.
    assert.ok(await page.locator('[data-testid=console] .fg2', { hasText: '✓' }).count() > 0);
    await screenshot(page, 'build-running');

    await page.locator('[data-build-status=success]').waitFor({ timeout: 60_000 });
    assert.deepEqual(await page.locator('[data-testid=pipeline] .node').evaluateAll((els) => els.map((e) => e.getAttribute('data-status'))), Array(6).fill('success'));
    const build = await getBuild(d, 'demo', 1);
    assert.deepEqual(build.parameters, { GREETING: 'bonjour' });
    assert.equal(build.trigger.kind, 'ui');

    // A step's attempts and the worker that ran each.
    await node('package').click();
    const details = page.locator('[data-testid=step-details]');
    await details.getByRole('heading', { name: /package/ }).waitFor();
    const worker = build.steps.find((s) => s.name === 'package')?.attempts[0]?.worker;
    assert.ok(worker);
    await details.getByRole('cell', { name: worker }).waitFor();
    await page.locator('[data-testid=console]').getByText('attempt 1', { exact: true }).waitFor();
    assert.doesNotMatch(await consoleText(page), /case 1 on node/, 'selecting a step shows only its console');
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'build-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    assert.deepEqual(await unlabelledControls(page), []);
  });

  it('lists the artifacts with their sizes and downloads one', async () => {
    const { page } = b;
    await page.goto(`${d.url}/#/jobs/demo/builds/1`);
    const link = page.locator('[data-testid=artifacts]').getByRole('link', { name: 'dist/greeting.txt' });
    await link.waitFor();
    await page.locator('[data-testid=artifacts] tr', { hasText: 'dist/greeting.txt' }).getByText('18 B').waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    assert.equal(download.suggestedFilename(), 'greeting.txt');
    assert.equal(await readFile((await download.path())!, 'utf8'), 'bonjour from demo\n');
  });

  it('shows a build triggered elsewhere without a reload, and rebuilds', async () => {
    const { page } = b;
    await page.goto(`${d.url}/#/jobs/service-02`);
    const history = page.locator('[data-testid=build-history] tbody tr');
    await eventually(async () => assert.equal(await history.count(), 1));
    const n = await trigger(d, 'service-02');
    await page.locator('[data-testid=build-history]').getByRole('link', { name: `#${n}` }).waitFor();
    await page.locator('[data-testid=build-history]').getByRole('link', { name: `#${n}` }).click();
    await page.locator('[data-build-status=success]').waitFor();
    await page.getByRole('button', { name: 'Rebuild' }).click();
    await page.waitForURL(new RegExp(`#/jobs/service-02/builds/${n + 1}$`));
    await page.locator('[data-build-status=success]').waitFor();
  });

  it('shows leases, holders and workers on the queue page while a build runs, and cancels the build', async () => {
    const { page } = b;
    await page.goto(`${d.url}/#/jobs/sleepy`);
    await page.getByRole('button', { name: 'Build now' }).click();
    await page.waitForURL(/#\/jobs\/sleepy\/builds\/1$/);
    await page.locator('[data-testid=console]').getByText('waiting').waitFor();

    await page.goto(`${d.url}/#/queue`);
    const lease = page.locator('[data-testid=leases] tbody tr', { hasText: 'sleepy#1 · wait' });
    await lease.waitFor();
    await lease.getByText('execute-shell').waitFor();
    await page.locator('[data-testid=workers] tbody tr', { hasText: 'busy' }).first().waitFor();
    await page.locator('[data-testid=routes] tbody tr', { hasText: 'execute-shell' }).waitFor();
    await page.locator('[data-testid=health]').getByText('sqlite').waitFor();
    await screenshot(page, 'queue');

    await lease.getByRole('link').click();
    await page.waitForURL(/#\/jobs\/sleepy\/builds\/1\?step=wait$/);
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await page.locator('[data-build-status=cancelled]').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid=pipeline] [data-step=wait][data-status=cancelled]').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Cancel', exact: true }).count(), 0, 'no cancel button on a finished build');
  });

  it('stops following the console when the reader scrolls up, and follows again on request', async () => {
    const { page } = b;
    const n = await trigger(d, 'chatty');
    await page.goto(`${d.url}/#/jobs/chatty/builds/${n}`);
    const log = page.locator('[data-testid=console]');
    await log.getByText('slow line 2').waitFor();
    const gap = `(() => { const c = document.querySelector('[data-testid=console]'); return c.scrollHeight - c.scrollTop - c.clientHeight; })()`;
    assert.ok((await page.evaluate<number>(gap)) < 8, 'follows the end while new output arrives');
    await log.hover();
    await page.mouse.wheel(0, -2000);
    await eventually(async () => assert.equal(await page.getByTestId('follow').getAttribute('aria-pressed'), 'false'));
    const top = await log.evaluate((el) => el.scrollTop);
    const length = (await consoleText(page)).length;
    await eventually(async () => assert.ok((await consoleText(page)).length > length + 40), 10_000);
    assert.equal(await log.evaluate((el) => el.scrollTop), top, 'new output does not pull the reader down');
    await page.getByTestId('follow').click();
    await eventually(async () => assert.ok((await page.evaluate<number>(gap)) < 8));
    await buildEnds(d, 'chatty', n);
  });

  it('shows validation errors next to the field and applies a fixed config', async () => {
    const { page } = b;
    await page.goto(`${d.url}/#/jobs/sleepy/edit`);
    const editor = page.getByLabel(/Config of sleepy/);
    await editor.waitFor();
    await eventually(async () => assert.match(await editor.inputValue(), /sleep 120/));
    const good = await editor.inputValue();
    const bad = `${good.replace('type: execute-shell', 'type: execute-shel')}  - {name: more, type: execute-shell, params: {scrpt: "true"}}\n`;
    await editor.fill(bad);
    await page.getByRole('button', { name: 'Apply' }).click();
    const problems = page.getByTestId('config-problems');
    await problems.locator('li').first().waitFor();
    const texts = await problems.locator('li').allInnerTexts();
    assert.ok(texts.some((t) => /^line 5 steps\[0\]\.type must be one of/.test(t)), texts.join('\n'));
    assert.ok(texts.some((t) => /^line 6 steps\[1\]\.params\.scrpt/.test(t)), texts.join('\n'));
    assert.equal(await editor.getAttribute('aria-invalid'), 'true');
    // Next to the field: the message sits on the offending line of the editor.
    await page.locator('.editor .line.marked', { hasText: 'execute-shel' }).locator('.note', { hasText: 'steps[0].type' }).waitFor();
    await screenshot(page, 'edit-errors');

    await editor.fill(good.replace('sleep 120', 'sleep 1'));
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/#\/jobs\/sleepy\/config$/);
    await page.getByText('version 2', { exact: false }).first().waitFor();
    assert.match(await page.getByTestId('config-source').innerText(), /sleep 1"/);
  });
});
