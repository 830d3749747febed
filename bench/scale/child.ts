/**
 * The bench's own helper processes (load generator, prober): forked node scripts that
 * talk through IPC messages, stopped by the cleanup by PID.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { BenchArgs } from '../common.js';

export interface Child<In, Out extends { type: string }> {
  pid: number;
  send(message: In): void;
  /** The next message of this type. */
  next<T extends Out['type']>(type: T, timeoutMs?: number): Promise<Extract<Out, { type: T }>>;
  /** Every message of this type, from now on. */
  on<T extends Out['type']>(type: T, fn: (message: Extract<Out, { type: T }>) => void): void;
  stop(): Promise<void>;
}

export function forkChild<In, Out extends { type: string }>(args: Pick<BenchArgs, 'cleanup' | 'log'>, script: string, name: string): Child<In, Out> {
  const child: ChildProcess = fork(new URL(script, import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, NODE_OPTIONS: '' } });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  args.cleanup.defer(`stop the ${name} (pid ${child.pid})`, stop);
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') args.log(`${name} (pid ${child.pid}) exited with ${code ?? signal}`);
  });
  // A send after the child is gone (an interrupted run: Ctrl-C reaches it first) is an
  // 'error' event; unhandled, it would kill the bench before its cleanup ran.
  child.on('error', (err) => args.log(`${name} (pid ${child.pid}): ${err.message}`));
  return {
    pid: child.pid!,
    send: (message) => {
      if (child.connected) child.send(message as object);
    },
    next: (type, timeoutMs = 600_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          child.off('message', onMessage);
          reject(new Error(`${name}: no '${type}' message after ${timeoutMs / 1000} s`));
        }, timeoutMs);
        const onMessage = (m: Out): void => {
          if (m.type !== type) return;
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(m as Extract<Out, { type: typeof type }>);
        };
        child.on('message', onMessage);
      }),
    on: (type, fn) => {
      child.on('message', (m: Out) => {
        if (m.type === type) fn(m as Extract<Out, { type: typeof type }>);
      });
    },
    stop,
  };
}
