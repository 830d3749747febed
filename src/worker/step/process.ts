import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { ConsoleWriter } from './console-writer.js';

export interface ProcessOptions {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Where stdout and stderr go as they arrive (already masked there). */
  console?: ConsoleWriter;
  /** Keep the last `capture` characters of stdout and of stderr in the result. */
  capture?: number;
  /** Kill after this long; the result says `stopped: 'timeout'`. */
  timeoutMs?: number;
  /** Aborting kills the process; the result says `stopped: 'aborted'`. */
  signal: AbortSignal;
  /** Between SIGTERM and SIGKILL (default 2000 ms). */
  killGraceMs?: number;
  /**
   * Bytes of stdout and stderr together passed on to the console and capture; past it the
   * rest is discarded and the program is stopped like on a timeout (`stopped: 'output_limit'`).
   */
  maxOutputBytes?: number;
  /** Start the program as this user and group (the worker must be root to change them). */
  uid?: number;
  gid?: number;
}

export interface ProcessResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stopped: 'timeout' | 'aborted' | 'output_limit' | null;
  stdout: string;
  stderr: string;
}

/** Signals a whole process group: a script's background children go with it. */
function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Runs a program (never through a shell string) in its own process group, stdin closed.
 * Timeout and abort send SIGTERM to the group, then SIGKILL after the grace period; when
 * the program exits, whatever it left running in its group is killed. Output is decoded
 * as UTF-8 without splitting characters, and the child is paused while the console is
 * backed up. Past `maxOutputBytes` output is dropped and the group stopped. Rejects only
 * when the program cannot be started.
 */
export function runProcess(options: ProcessOptions): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.uid !== undefined ? { uid: options.uid } : {}),
      ...(options.gid !== undefined ? { gid: options.gid } : {}),
    });
    const captured = { stdout: '', stderr: '' };
    let outputBytes = 0;
    /** The part of a chunk still within `maxOutputBytes`; stops the program once past it. */
    const withinLimit = (chunk: Buffer): Buffer => {
      const max = options.maxOutputBytes;
      if (max === undefined) return chunk;
      const room = Math.max(0, max - outputBytes);
      outputBytes += chunk.length;
      if (chunk.length <= room) return chunk;
      stop('output_limit');
      return chunk.subarray(0, room);
    };
    const consume = (stream: Readable, name: 'stdout' | 'stderr'): void => {
      const decoder = new StringDecoder('utf8');
      let paused = false;
      const take = (text: string): void => {
        if (text === '') return;
        if (options.capture) captured[name] = (captured[name] + text).slice(-options.capture);
        if (options.console && !options.console.write(text) && !paused) {
          paused = true;
          stream.pause();
          options.console.once('drain', () => {
            paused = false;
            stream.resume();
          });
        }
      };
      // Past the limit the stream is still read (and dropped) so the program never blocks on it.
      stream.on('data', (chunk: Buffer) => take(decoder.write(withinLimit(chunk))));
      stream.on('end', () => take(decoder.end()));
    };
    consume(child.stdout, 'stdout');
    consume(child.stderr, 'stderr');

    let stopped: ProcessResult['stopped'] = null;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (reason: NonNullable<ProcessResult['stopped']>): void => {
      if (stopped || child.pid === undefined) return;
      stopped = reason;
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), options.killGraceMs ?? 2000);
    };
    const timer = options.timeoutMs !== undefined ? setTimeout(() => stop('timeout'), options.timeoutMs) : undefined;
    const onAbort = (): void => stop('aborted');
    if (options.signal.aborted) onAbort();
    else options.signal.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      options.signal.removeEventListener('abort', onAbort);
    };

    child.on('error', (err) => {
      cleanup();
      reject(err);
    });
    // Leftovers holding the pipes open would keep 'close' from coming: kill them on exit.
    child.on('exit', () => {
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
    });
    child.on('close', (exitCode, signal) => {
      cleanup();
      resolve({ exitCode, signal, stopped, ...captured });
    });
  });
}
