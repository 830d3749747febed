import { pino, type Logger } from 'pino';

/** Structured JSON logs on stderr, so stdout stays for a command's own output. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } }, pino.destination({ fd: 2, sync: true }));
}
