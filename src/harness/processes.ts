/**
 * Starts distci commands as real child processes and stops exactly what it started.
 * Used by tests and benchmarks wherever behaviour crosses a process boundary.
 */
import { spawn, type ChildProcess } from 'node:child_process';

import { fileURLToPath } from 'node:url';

export const DISTCI_BIN = fileURLToPath(new URL('../../../bin/distci.js', import.meta.url));

export interface Proc {
  child: ChildProcess;
  pid: number;
  /** Everything the process wrote to stderr so far (its JSON log). */
  stderr(): string;
  /** SIGKILL, and wait until it is gone. */
  kill(): Promise<void>;
  /** SIGTERM, and wait until it exits; SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

export function spawnDistci(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [DISTCI_BIN, ...args], {
    env: { ...process.env, DISTCI_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    if (err.length > 4_000_000) err = err.slice(-2_000_000);
  });
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  const proc: Proc = {
    child,
    pid: child.pid!,
    stderr: () => err,
    exited,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    stop: async (graceMs = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  return proc;
}

/** Resolves with the first stdout line matching `pattern`, or rejects if the process exits first. */
export async function waitForLine(proc: Proc, pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
  let out = '';
  const stdout = proc.child.stdout!;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`timed out waiting for ${pattern} from pid ${proc.pid}; stderr:\n${proc.stderr().slice(-2000)}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const match = pattern.exec(out);
      if (match) done(null, match);
    };
    const onExit = (code: number | null): void =>
      done(new Error(`pid ${proc.pid} exited (${code}) before printing ${pattern}; stderr:\n${proc.stderr().slice(-2000)}`));
    function done(err: Error | null, match?: RegExpMatchArray): void {
      clearTimeout(timer);
      stdout.off('data', onData);
      proc.child.off('exit', onExit);
      if (err) reject(err);
      else resolve(match!);
    }
    stdout.on('data', onData);
    proc.child.once('exit', onExit);
  });
}

export interface FrontendProc extends Proc {
  url: string;
}

/** `distci frontend --port 0` on the given data directory or coordinator; resolves when it listens. */
export async function startFrontendProc(args: string[], env: NodeJS.ProcessEnv = {}): Promise<FrontendProc> {
  const proc = spawnDistci(['frontend', '--port', '0', ...args], env);
  const match = await waitForLine(proc, /listening on (http:\/\/\S+)/);
  return Object.assign(proc, { url: match[1]! });
}

/** Drains stdout so a chatty child never blocks on a full pipe. */
export function drain(proc: Proc): void {
  proc.child.stdout!.resume();
}

export async function stopAll(procs: Proc[]): Promise<void> {
  await Promise.all(procs.map((p) => p.stop(5_000)));
}


/** Runs a short distci command to the end and returns what it printed. */
export async function runDistci(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawnDistci(args, env);
  let stdout = '';
  proc.child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await proc.exited;
  return { code, stdout, stderr: proc.stderr() };
}
