/** Statuses as text plus a shape, never colour alone. */
import type { BuildStatus, StepStatus } from '../lib/types.js';

const ICON: Record<BuildStatus | StepStatus, string> = {
  queued: '○',
  pending: '○',
  running: '◐',
  success: '✓',
  failure: '✗',
  error: '!',
  cancelled: '⊘',
  skipped: '–',
};

export function Status({ status, small }: { status: BuildStatus | StepStatus; small?: boolean }) {
  return (
    <span class={`status s-${status}${small ? ' small' : ''}`} data-status={status}>
      <span class="icon" aria-hidden="true">
        {ICON[status]}
      </span>
      {status}
    </span>
  );
}
