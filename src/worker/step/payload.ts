import type { StepPayload, WorkspaceRef } from '../../core/builds/step-payload.js';
import { ValidationError } from '../../core/errors.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const ENV_NAME = /^[^=\0]+$/;

function bad(field: string, expectation: string): never {
  throw new ValidationError(`step ticket payload "${field}" must be ${expectation}; the ticket was not posted by a build-control worker of this version`, {
    field,
  });
}

function nonEmpty(p: Record<string, unknown>, field: string): string {
  const v = p[field];
  if (typeof v !== 'string' || v.length === 0) bad(field, 'a non-empty string');
  return v;
}

function env(v: unknown, field: string): Record<string, string> {
  if (v === undefined) return {};
  if (!isObject(v) || Object.entries(v).some(([k, s]) => typeof s !== 'string' || !ENV_NAME.test(k) || s.includes('\0'))) {
    bad(field, 'an object mapping variable names (no "=") to strings');
  }
  return v as Record<string, string>;
}

function inputs(v: unknown): WorkspaceRef[] {
  if (v === undefined) return [];
  const valid = (r: unknown): boolean =>
    isObject(r) && typeof r.step === 'string' && r.step.length > 0 && Number.isInteger(r.attempt) && (r.attempt as number) >= 1;
  if (!Array.isArray(v) || !v.every(valid)) bad('inputs', 'a list of {step, attempt} workspace references');
  return (v as WorkspaceRef[]).map((r) => ({ step: r.step, attempt: r.attempt }));
}

/** Checks a step ticket's payload against the contract with the build-control worker. */
export function parseStepPayload(payload: unknown): StepPayload {
  if (!isObject(payload)) bad('(payload)', 'an object');
  const build = payload.build;
  if (typeof build !== 'number' || !Number.isInteger(build) || build < 1) bad('build', 'a positive integer');
  if (!isObject(payload.params)) bad('params', 'an object');
  const secrets = payload.secrets ?? [];
  if (!Array.isArray(secrets) || secrets.some((s) => typeof s !== 'string' || s.length === 0)) bad('secrets', 'a list of secret names');
  const timeout = payload.timeoutSeconds;
  if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1)) {
    bad('timeoutSeconds', 'a positive integer');
  }
  const deadline = payload.deadline;
  if (deadline !== undefined && (typeof deadline !== 'number' || !Number.isFinite(deadline))) bad('deadline', 'a time in ms');
  return {
    ...(deadline !== undefined ? { deadline } : {}),
    job: nonEmpty(payload, 'job'),
    build,
    step: nonEmpty(payload, 'step'),
    type: nonEmpty(payload, 'type'),
    params: payload.params,
    env: env(payload.env, 'env'),
    secrets: secrets as string[],
    ...(timeout !== undefined ? { timeoutSeconds: timeout } : {}),
    inputs: inputs(payload.inputs),
  };
}
