import type { Outcome } from '../../core/ticket.js';

/**
 * A step ending for a known reason, with the stable code its result carries. `failure`
 * means the step's own input was at fault (bad archive, bad params, script failed);
 * `error` means infrastructure (a workspace that cannot be fetched).
 */
export class StepFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly outcome: Extract<Outcome, 'failure' | 'error'> = 'failure',
  ) {
    super(message);
    this.name = 'StepFailure';
  }
}
