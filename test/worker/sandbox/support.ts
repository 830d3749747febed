import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Readable } from 'node:stream';
import { list } from 'tar';
import type { KindsOptions } from '../../../src/worker/kinds/index.js';
import { INSTALL_HINT, probeBwrap, type SandboxLimits } from '../../../src/worker/sandbox/index.js';
import { KindsHarness, MemoryStepApi, stepPayload, wsKey } from '../kinds/support.js';

export const GiB = 2 ** 30;
export const LIMITS: SandboxLimits = { memoryBytes: 4 * GiB, processes: 256, tmpBytes: 256 * 2 ** 20 };

/**
 * These tests need the real bubblewrap. Missing is a failure, never a skip: a machine
 * without it would otherwise report the protections as tested.
 */
export async function requireBwrap(): Promise<void> {
  const problem = await probeBwrap({ network: true, limits: LIMITS });
  if (problem) throw new Error(`sandbox tests need a working bubblewrap: ${problem} (${INSTALL_HINT})`);
}

export interface SandboxHarnessOptions {
  network?: boolean;
  limits?: Partial<SandboxLimits>;
  maxStepOutputBytes?: number;
}

/** A worker's kinds with the bwrap sandbox on (or off, for the controls that show what it prevents). */
export function sandboxHarness(options: SandboxHarnessOptions = {}, mode: 'bwrap' | 'off' = 'bwrap'): Promise<KindsHarness> {
  const kinds: Partial<KindsOptions> = {
    sandbox: mode === 'off' ? { mode: 'off' } : { mode: 'bwrap', network: options.network ?? true, uid: 65534, limits: { ...LIMITS, ...options.limits } },
    ...(options.maxStepOutputBytes !== undefined ? { maxStepOutputBytes: options.maxStepOutputBytes } : {}),
  };
  return KindsHarness.start(new MemoryStepApi(), kinds);
}

export const shell = (step: string, script: string, params: Record<string, unknown> = {}) => stepPayload('execute-shell', step, { script, ...params });

/** Paths of the files in the workspace a step uploaded. */
export async function uploadedFiles(api: MemoryStepApi, step: string): Promise<string[]> {
  const archive = api.workspaces.get(wsKey('app', 1, step, 1));
  if (!archive) throw new Error(`step ${step} uploaded no workspace`);
  const paths: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const parser = list({ onReadEntry: (entry) => paths.push(entry.path) });
    parser.on('end', resolve).on('error', reject);
    Readable.from(archive).pipe(parser);
  });
  return paths.map((p) => p.replace(/^\.\//, ''));
}

export interface HostProcess {
  pid: number;
  uid: number;
  command: string;
}

const ownPidNamespace = readlinkSync('/proc/self/ns/pid');

/**
 * Processes running in another PID namespace than this test: sandboxed ones (the test
 * runner runs one file at a time, and nothing else here makes PID namespaces).
 */
export function sandboxedProcesses(): HostProcess[] {
  const found: HostProcess[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/ns/pid`) === ownPidNamespace) continue;
      const status = readFileSync(`/proc/${name}/status`, 'utf8');
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      const command = /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?';
      found.push({ pid: Number(name), uid, command });
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}
