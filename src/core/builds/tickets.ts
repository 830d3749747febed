/** The tickets a build consists of: build-control tickets and one ticket per step. */
import type { DownstreamTrigger } from '../jobs/types.js';
import type { PlannedStep } from '../jobs/matrix.js';
import type { NewTicket } from '../ticket.js';
import { normalizeRepository } from '../webhooks/repository.js';
import type { BuildRecord, Revision } from './build.js';
import type { StepPayload, WorkspaceRef } from './step-payload.js';

/** Build-control tickets are short and must not starve behind step work. */
export const BUILD_CONTROL_PRIORITY = 100;
const BUILD_CONTROL_ATTEMPTS = 10;

/** The ticket that makes a build-control worker look at a build again; `reason` keeps it unique. */
export function buildControlTicket(job: string, number: number, reason: string): NewTicket {
  return {
    kind: 'build-control',
    payload: { job, number },
    refs: { job, build: number },
    priority: BUILD_CONTROL_PRIORITY,
    maxAttempts: BUILD_CONTROL_ATTEMPTS,
    idempotencyKey: `build-control/${job}/${number}/${reason}`,
  };
}

/**
 * A step's ticket. Its idempotency key makes a repeated post (a resumed build-control
 * worker) return the same ticket; its follow-up brings build-control back however the
 * step ends — success, failure, lost worker or cancellation.
 */
export function stepTicket(build: BuildRecord, step: PlannedStep): NewTicket {
  const inputs: WorkspaceRef[] = step.needs
    .map((name) => build.steps.find((s) => s.name === name)?.workspace)
    .filter((w): w is WorkspaceRef => Boolean(w));
  const payload: StepPayload = {
    job: build.job,
    build: build.number,
    step: step.name,
    type: step.type,
    params: paramsFor(step, build.revision),
    env: {
      ...step.env,
      ...build.parameters,
      ...revisionEnv(build.revision),
      DISTCI_JOB: build.job,
      DISTCI_BUILD_NUMBER: String(build.number),
      DISTCI_STEP: step.name,
    },
    secrets: step.secrets,
    timeoutSeconds: step.timeoutSeconds,
    ...(build.deadline !== null ? { deadline: build.deadline } : {}),
    inputs,
  };
  return {
    kind: step.type,
    labels: step.labels,
    payload,
    refs: { job: build.job, build: build.number, step: step.name },
    maxAttempts: step.maxAttempts,
    idempotencyKey: `step/${build.job}/${build.number}/${step.name}`,
    followUp: buildControlTicket(build.job, build.number, `after/${step.name}`),
  };
}

/** A webhook build checks out the pushed commit wherever the job checks out that repository. */
function paramsFor(step: PlannedStep, revision: Revision | undefined): Record<string, unknown> {
  const params = step.params as unknown as Record<string, unknown>;
  if (!revision || step.type !== 'git-checkout') return params;
  const repository = normalizeRepository(String(params.repository));
  if (repository !== normalizeRepository(revision.repository)) return params;
  const { depth: _depth, ...rest } = params;
  return { ...rest, ref: revision.commit };
}

function revisionEnv(revision: Revision | undefined): Record<string, string> {
  if (!revision) return {};
  return {
    DISTCI_COMMIT: revision.commit,
    DISTCI_BRANCH: revision.branch,
    ...(revision.pr !== undefined ? { DISTCI_PR: String(revision.pr) } : {}),
  };
}

export function downstreamKey(build: BuildRecord, trigger: DownstreamTrigger): string {
  return `upstream/${build.job}/${build.number}/${trigger.job}`;
}
