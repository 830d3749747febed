import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '../../core/errors.js';
import type { TicketResult } from '../../core/ticket.js';
import type { TicketContext, TicketHandler } from '../runtime.js';

export interface ShellPayload {
  script: string;
  env?: Record<string, string>;
  timeoutSeconds?: number;
}

const OUTPUT_TAIL_BYTES = 16 * 1024;

function parsePayload(payload: unknown): ShellPayload {
  const p = payload as Partial<ShellPayload> | null;
  if (!p || typeof p.script !== 'string' || p.script.length === 0) {
    throw new ValidationError('execute-shell payload needs "script": a non-empty bash script');
  }
  if (p.env !== undefined && (typeof p.env !== 'object' || Object.values(p.env).some((v) => typeof v !== 'string'))) {
    throw new ValidationError('execute-shell payload "env" must map names to strings');
  }
  if (p.timeoutSeconds !== undefined && !(Number.isInteger(p.timeoutSeconds) && p.timeoutSeconds > 0)) {
    throw new ValidationError('execute-shell payload "timeoutSeconds" must be a positive integer');
  }
  return p as ShellPayload;
}

/** Kills the whole process group: a script's background children die with it. */
function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Runs a bash script in its own process group and a fresh directory. The exit code
 * decides the outcome; a timeout or an aborted lease kills the whole group.
 */
export function executeShell(options: { workRoot?: string } = {}): TicketHandler {
  return async (ctx: TicketContext): Promise<TicketResult> => {
    let payload: ShellPayload;
    try {
      payload = parsePayload(ctx.ticket.payload);
    } catch (err) {
      return { outcome: 'failure', code: 'bad_params', message: (err as Error).message };
    }
    const dir = await mkdtemp(join(options.workRoot ?? tmpdir(), `distci-${ctx.ticket.id}-`));
    try {
      return await runScript(payload, dir, ctx);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
}

function runScript(payload: ShellPayload, cwd: string, ctx: TicketContext): Promise<TicketResult> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', payload.script], {
      cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...payload.env, DISTCI_TICKET_ID: ctx.ticket.id, DISTCI_ATTEMPT: String(ctx.ticket.attempt) },
    });
    let tail = '';
    const collect = (chunk: Buffer): void => {
      tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    let stopReason: 'timeout' | 'aborted' | null = null;
    const stop = (reason: 'timeout' | 'aborted'): void => {
      stopReason ??= reason;
      if (child.pid === undefined) return;
      killGroup(child.pid, 'SIGTERM');
      setTimeout(() => killGroup(child.pid!, 'SIGKILL'), 2000).unref();
    };
    const timer = payload.timeoutSeconds ? setTimeout(() => stop('timeout'), payload.timeoutSeconds * 1000) : undefined;
    const onAbort = (): void => stop('aborted');
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      resolve({ outcome: 'error', code: 'spawn_failed', message: `cannot start bash: ${err.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      const data = { exitCode: code, signal, outputTail: tail };
      if (stopReason === 'timeout') resolve({ outcome: 'failure', code: 'timeout', message: `timed out after ${payload.timeoutSeconds} s`, data });
      else if (stopReason === 'aborted') resolve({ outcome: 'error', code: 'aborted', message: 'stopped: lease lost or worker shutting down', data });
      else if (code === 0) resolve({ outcome: 'success', data });
      else resolve({ outcome: 'failure', code: `exit_${code ?? signal}`, message: `script exited with ${code ?? signal}`, data });
    });
  });
}
