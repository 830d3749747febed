/**
 * Browser-test support: Debian's Chromium driven by playwright-core (which downloads no
 * browser of its own), and `distci up` started as a real child process.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { drain, spawnDistci, waitForLine, type Proc } from '../../src/harness/processes.js';

export const CHROMIUM = process.env.DISTCI_CHROMIUM ?? '/usr/bin/chromium';
/**
 * Screenshots of the main pages go to docs/screenshots/ (shown in the README) when
 * DISTCI_UPDATE_SCREENSHOTS=1, else to a temporary directory, so a test run leaves the
 * work tree as it was.
 */
export const SCREENSHOTS = process.env.DISTCI_UPDATE_SCREENSHOTS
  ? fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url))
  : join(tmpdir(), 'distci-ui-screenshots');

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];

export interface TestBrowser {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Fails (never skips) when Chromium is missing, saying how to get it. */
export async function launchBrowser(options: { colorScheme?: 'light' | 'dark' } = {}): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (Debian), or point DISTCI_CHROMIUM at a Chromium binary`);
  }
  const profile = await mkdtemp(join(tmpdir(), 'distci-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ARGS,
    headless: true,
    viewport: { width: 1280, height: 860 },
    colorScheme: options.colorScheme ?? 'light',
    acceptDownloads: true,
    reducedMotion: 'reduce',
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(20_000);
  return {
    browser: context.browser() as Browser,
    context,
    page,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export interface Distci {
  proc: Proc;
  url: string;
  dir: string;
  /** Calls the API with an optional token. */
  api(path: string, init?: RequestInit & { token?: string }): Promise<Response>;
  stop(): Promise<void>;
}

/** `distci up --no-example` on a fresh data directory; resolves once it prints its address. */
export async function startDistci(env: NodeJS.ProcessEnv = {}, args: string[] = []): Promise<Distci> {
  const dir = await mkdtemp(join(tmpdir(), 'distci-ui-'));
  await mkdir(join(dir, 'data'));
  const proc = spawnDistci(['up', '--data', join(dir, 'data'), '--port', '0', '--no-example', ...args], { DISTCI_LOG_LEVEL: 'warn', ...env });
  const [, url] = await waitForLine(proc, /distci is up: (http:\/\/\S+)/, 30_000);
  drain(proc);
  return {
    proc,
    url: url!,
    dir,
    api: (path, init = {}) => {
      const { token, headers, ...rest } = init;
      return fetch(`${url}${path}`, { ...rest, headers: { ...(headers as Record<string, string>), ...(token ? { authorization: `Bearer ${token}` } : {}) } });
    },
    stop: async () => {
      await proc.stop(10_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** PUTs a job config (YAML). */
export async function applyJob(d: Distci, name: string, yaml: string, token?: string): Promise<void> {
  const res = await d.api(`/api/v1/jobs/${name}`, { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body: yaml, ...(token ? { token } : {}) });
  if (!res.ok) throw new Error(`applying ${name}: ${res.status} ${await res.text()}`);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}
