/** Waiting on builds through the API, and page checks shared by the browser tests. */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { BuildRecord } from '../../src/core/builds/build.js';
import { eventually } from '../support/wait.js';
import type { Distci } from './browser.js';

export async function getBuild(d: Distci, job: string, n: number, token?: string): Promise<BuildRecord> {
  const res = await d.api(`/api/v1/jobs/${job}/builds/${n}`, token ? { token } : {});
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as BuildRecord;
}

export async function trigger(d: Distci, job: string, token?: string): Promise<number> {
  const res = await d.api(`/api/v1/jobs/${job}/builds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', ...(token ? { token } : {}) });
  assert.equal(res.status, 201, await res.clone().text());
  return ((await res.json()) as BuildRecord).number;
}

export async function buildEnds(d: Distci, job: string, n: number, timeoutMs = 60_000): Promise<BuildRecord> {
  return eventually(
    async () => {
      const b = await getBuild(d, job, n);
      assert.ok(['success', 'failure', 'error', 'cancelled'].includes(b.status), `${job}#${n} is still ${b.status}`);
      return b;
    },
    timeoutMs,
    100,
  );
}

/** Form controls with no accessible name: every one should have a label. */
export async function unlabelledControls(page: Page): Promise<string[]> {
  return page.evaluate(`(() => {
    const bad = [];
    for (const el of document.querySelectorAll('input, select, textarea')) {
      const labelled = (el.id && document.querySelector('label[for="' + el.id + '"]')) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.closest('label');
      if (!labelled && el.type !== 'hidden') bad.push(el.outerHTML.slice(0, 120));
    }
    return bad;
  })()`);
}

/** Text of the console box. */
export async function consoleText(page: Page): Promise<string> {
  return page.locator('[data-testid=console]').innerText();
}
