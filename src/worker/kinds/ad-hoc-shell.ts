import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { TicketResult } from '../../core/ticket.js';
import type { TicketContext, TicketHandler } from '../runtime.js';
import { ParamReader } from '../step/params.js';
import { runProcess } from '../step/process.js';

const OUTPUT_TAIL = 16 * 1024;

/**
 * An execute-shell ticket posted by hand, outside any build: payload `{script, env?,
 * timeoutSeconds?}` and no `job`. It runs in a scratch directory with no workspace, no
 * console and no secrets; the last 16 KiB of output come back in the result.
 */
export function isAdHocShell(payload: unknown): boolean {
  return typeof payload === 'object' && payload !== null && !('job' in payload) && 'script' in payload;
}

export function adHocShell(workRoot: string): TicketHandler {
  return async (ctx: TicketContext): Promise<TicketResult> => {
    let script: string;
    let env: Record<string, string>;
    let timeoutSeconds: number | undefined;
    try {
      const p = new ParamReader('execute-shell', ctx.ticket.payload as Record<string, unknown>);
      script = p.string('script');
      env = p.optEnv('env') ?? {};
      timeoutSeconds = p.optInt('timeoutSeconds', 1);
    } catch (err) {
      return { outcome: 'failure', code: 'bad_params', message: (err as Error).message };
    }
    await mkdir(workRoot, { recursive: true });
    const dir = await mkdtemp(join(workRoot, 'adhoc-'));
    const base = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => v !== undefined && !k.startsWith('DISTCI_'))) as Record<string, string>;
    try {
      const r = await runProcess({
        command: 'bash',
        args: ['-c', script],
        cwd: dir,
        env: { ...base, ...env, DISTCI_TICKET_ID: ctx.ticket.id, DISTCI_ATTEMPT: String(ctx.ticket.attempt) },
        capture: OUTPUT_TAIL,
        signal: ctx.signal,
        ...(timeoutSeconds !== undefined ? { timeoutMs: timeoutSeconds * 1000 } : {}),
      });
      const data = { exitCode: r.exitCode, signal: r.signal, outputTail: `${r.stdout}${r.stderr}`.slice(-OUTPUT_TAIL) };
      if (r.stopped === 'timeout') return { outcome: 'failure', code: 'timeout', message: `timed out after ${timeoutSeconds} s`, data };
      if (r.stopped === 'aborted') return { outcome: 'error', code: 'aborted', message: 'stopped: lease lost or worker shutting down', data };
      if (r.exitCode === 0) return { outcome: 'success', data };
      const status = r.exitCode ?? r.signal;
      return { outcome: 'failure', code: `exit_${status}`, message: `script exited with ${status}`, data };
    } catch (err) {
      return { outcome: 'error', code: 'spawn_failed', message: `cannot start bash: ${(err as Error).message}` };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
}
