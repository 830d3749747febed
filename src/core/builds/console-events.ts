/** Console events as the API streams them, and their plain-text rendering (API and CLI). */
import type { BuildRecord, StepState } from './build.js';

export interface ConsoleChunk {
  step: string;
  attempt: number;
  seq: number;
  text: string;
}

export type ConsoleEvent =
  | { type: 'chunk'; chunk: ConsoleChunk }
  | { type: 'step'; step: string; status: StepState['status']; attempt: number; code?: string; message?: string }
  | { type: 'lost'; step: string; attempt: number; message: string }
  | { type: 'end'; status: BuildRecord['status']; message?: string };

/** Plain-text rendering of console events, as `GET .../console` and the CLI show them. */
export function renderText(event: ConsoleEvent, state: { step?: string; attempt?: number }): string {
  switch (event.type) {
    case 'chunk': {
      const { step, attempt, text } = event.chunk;
      let header = '';
      if (state.step !== step || state.attempt !== attempt) {
        header = `── ${step} · attempt ${attempt} ──\n`;
        state.step = step;
        state.attempt = attempt;
      }
      return header + text;
    }
    case 'lost':
      return `\n✖ ${event.step}: attempt ${event.attempt} lost — ${event.message}\n`;
    case 'step':
      return `── ${event.step}: ${event.status}${event.code && event.status !== 'success' ? ` (${event.code}${event.message ? `: ${event.message}` : ''})` : ''} ──\n`;
    case 'end':
      return `── build ${event.status}${event.message ? `: ${event.message}` : ''} ──\n`;
  }
}
