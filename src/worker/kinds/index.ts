import type { TicketHandler } from '../runtime.js';
import { executeShell } from './execute-shell.js';

/** Every worker kind this build of distci ships, by name. */
export function builtinKinds(options: { workRoot?: string } = {}): Record<string, TicketHandler> {
  return {
    'execute-shell': executeShell(options),
  };
}
