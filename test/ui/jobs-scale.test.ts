/**
 * The jobs page with 10,000 jobs: it loads one page and searches on the server. The
 * timings are printed (BENCHMARKS.md records them), not asserted: wall-clock depends on
 * the machine; what is asserted is that the page shows the right jobs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, startDistci, type Distci, type TestBrowser } from './browser.js';

const JOBS = 10_000;
const CONCURRENCY = 32;
const name = (i: number): string => `job-${String(i).padStart(5, '0')}`;
/** First by name: the example job `distci up` registers. */
const FIRST = 'hello';

/** Resolves with milliseconds from `start` (a page-side performance.now()) until the jobs table answers `query` with rows. */
const WAIT_FOR_ROWS = (query: string, firstJob: string) => `new Promise((resolve) => {
  const done = () => {
    const table = document.querySelector('table[data-query="${query}"]');
    const first = table && table.querySelector('tbody tr td a');
    return first && first.textContent === '${firstJob}';
  };
  const check = () => (done() ? resolve(performance.now()) : requestAnimationFrame(check));
  check();
})`;

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

describe('web UI with 10,000 jobs', () => {
  let d: Distci;
  let b: TestBrowser;

  before(async () => {
    d = await startDistci();
    b = await launchBrowser();
    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < JOBS; i = next++) {
          const res = await d.api(`/api/v1/jobs/${name(i)}`, {
            method: 'PUT',
            headers: { 'content-type': 'application/yaml' },
            body: `description: generated job number ${i}\nsteps: [{name: build, type: execute-shell, params: {script: "true"}}]\n`,
          });
          if (res.status !== 201) throw new Error(`PUT ${name(i)}: ${res.status} ${await res.text()}`);
        }
      }),
    );
    console.log(`registered ${JOBS} jobs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
  after(async () => {
    await b?.close();
    await d?.stop();
  });

  it('loads the first page and searches all jobs on the server', { timeout: 120_000 }, async () => {
    const { page } = b;
    const loads: number[] = [];
    for (let run = 0; run < 5; run++) {
      await page.goto('about:blank');
      await page.goto(`${d.url}/#/jobs`);
      loads.push(await page.evaluate<number>(WAIT_FOR_ROWS('', FIRST)));
    }
    assert.equal(await page.locator('[data-testid=jobs-table] tbody tr').count(), 50);

    // Searches typed into the box: time from the keystroke to the answer on screen (including the 100 ms debounce).
    const searches: Record<string, number[]> = {};
    for (let run = 0; run < 5; run++) {
      for (const [query, first] of [
        ['job-09999', name(9999)], // one match, found after reading every job
        ['number 42', name(42)], // a few matches spread over the whole list
        ['job-05', name(5000)], // a full page at once
      ] as const) {
        await page.goto(`${d.url}/#/jobs`);
        await page.evaluate(WAIT_FOR_ROWS('', FIRST));
        const elapsed = await page.evaluate<number>(`(async () => {
          const input = document.getElementById('job-search');
          const start = performance.now();
          input.value = ${JSON.stringify(query)};
          input.dispatchEvent(new Event('input', { bubbles: true }));
          return (await ${WAIT_FOR_ROWS(query, first)}) - start;
        })()`);
        (searches[query] ??= []).push(elapsed);
      }
    }
    const rows = await page.locator('[data-testid=jobs-table] tbody tr td:first-child a').allInnerTexts();
    assert.equal(rows.length, 50);
    assert.ok(rows.every((r) => r.startsWith('job-05')), rows.join(' '));

    await page.goto(`${d.url}/#/jobs?q=number%2042`);
    await page.evaluate(WAIT_FOR_ROWS('number 42', name(42)));
    assert.deepEqual(
      await page.locator('[data-testid=jobs-table] tbody tr td:first-child a').allInnerTexts(),
      [42, 420, 421, 422, 423, 424, 425, 426, 427, 428, 429, 4200].concat(Array.from({ length: 38 }, (_, i) => 4201 + i)).map(name),
    );

    console.log(`jobs page, ${JOBS} jobs: first page rendered ${median(loads).toFixed(0)} ms after navigation start (median of ${loads.length}; all: ${loads.map((v) => v.toFixed(0)).join(', ')})`);
    for (const [query, values] of Object.entries(searches)) {
      console.log(`jobs page, ${JOBS} jobs: search "${query}" on screen ${median(values).toFixed(0)} ms after the keystroke (median of ${values.length}; all: ${values.map((v) => v.toFixed(0)).join(', ')})`);
    }
  });
});
