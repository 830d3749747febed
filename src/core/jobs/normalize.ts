/**
 * Rules that span fields, and defaults. Input has already passed `JobShape`, so types are
 * known; everything here adds problems instead of throwing, so one pass reports them all.
 */
import { canonicalLabels } from '../ticket.js';
import { parseCron } from './cron.js';
import { describeCycle, findCycle } from './dag.js';
import { countPlannedSteps, matrixEnvName, tooManyStepsMessage } from './matrix.js';
import { childPath, conforms, isRecord, type Problems } from './problems.js';
import {
  DownstreamShape,
  MATRIX_VALUE_PATTERN,
  NAME_PATTERN,
  NAME_RULE,
  VARIABLE_PATTERN,
  VARIABLE_RULE,
  type RawJob,
  type RawStep,
} from './schema.js';
import { normalizeParams, withParams } from './step-params.js';
import { normalizeStatus } from './status-config.js';
import {
  DEFAULT_JOB_TIMEOUT_SECONDS,
  DEFAULT_RETRIES,
  MAX_PLANNED_STEPS,
  type DownstreamTrigger,
  type JobConfig,
  type JobParameter,
  type JobTriggers,
  type StepConfig,
} from './types.js';

type Scalar = string | number | boolean;

interface JobDefaults {
  labels: string[];
  env: Record<string, string>;
  secrets: string[];
  timeoutSeconds: number;
}

export function normalizeJob(raw: RawJob, nameFromUrl: string | undefined, problems: Problems): JobConfig {
  const id = jobId(raw.id, nameFromUrl, problems);
  const defaults: JobDefaults = {
    labels: canonicalLabels(raw.labels ?? []),
    env: variables(raw.env ?? {}, 'env', problems),
    secrets: [...new Set(raw.secrets ?? [])],
    timeoutSeconds: raw.timeoutSeconds ?? DEFAULT_JOB_TIMEOUT_SECONDS,
  };
  return {
    id,
    description: raw.description ?? '',
    ...defaults,
    ...(raw.concurrency === undefined ? {} : { concurrency: raw.concurrency }),
    parameters: parameters(raw.parameters ?? {}, problems),
    steps: steps(raw.steps, defaults, problems),
    downstream: downstream(raw.downstream ?? [], id, problems),
    triggers: triggers(raw.triggers ?? {}, problems),
    ...(raw.status === undefined ? {} : { status: normalizeStatus(raw.status, id, problems) }),
  };
}

function jobId(id: string | undefined, nameFromUrl: string | undefined, problems: Problems): string {
  if (id !== undefined && nameFromUrl !== undefined && id !== nameFromUrl) {
    problems.add('id', `'${id}' differs from the job name '${nameFromUrl}' in the URL; make them equal or leave id out`);
  }
  const result = id ?? nameFromUrl;
  if (result === undefined) problems.add('id', 'required');
  else if (id === undefined && !NAME_PATTERN.test(result)) {
    problems.add('id', `the job name '${result}' in the URL must be ${NAME_RULE}`);
  }
  return result ?? '';
}

/** NAME: scalar maps (env, parameters of a downstream trigger) → strings, names checked. */
function variables(map: Record<string, Scalar>, path: string, problems: Problems): Record<string, string> {
  for (const key of Object.keys(map)) {
    if (!VARIABLE_PATTERN.test(key)) problems.add(childPath(path, key), `'${key}' is not a variable name: ${VARIABLE_RULE}`);
  }
  return Object.fromEntries(Object.entries(map).map(([key, value]) => [key, String(value)]));
}

function parameters(raw: NonNullable<RawJob['parameters']>, problems: Problems): Record<string, JobParameter> {
  return Object.fromEntries(
    Object.entries(raw).map(([name, p]) => {
      if (!VARIABLE_PATTERN.test(name)) {
        problems.add(childPath('parameters', name), `'${name}' is not a parameter name: ${VARIABLE_RULE}`);
      }
      const parameter: JobParameter = {
        ...(p.default === undefined ? {} : { default: String(p.default) }),
        description: p.description ?? '',
      };
      return [name, parameter];
    }),
  );
}

/** Explicit names first; then `<type>-<index>` for the rest, suffixed until unique. */
function stepNames(raw: readonly RawStep[], problems: Problems): string[] {
  const taken = new Map<string, number>();
  raw.forEach((step, i) => {
    if (step.name === undefined) return;
    const first = taken.get(step.name);
    if (first === undefined) taken.set(step.name, i);
    else problems.add(`steps[${i}].name`, `duplicate step name '${step.name}' (also used by steps[${first}])`);
  });
  return raw.map((step, i) => {
    if (step.name !== undefined) return step.name;
    const base = `${step.type}-${i}`;
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
    taken.set(name, i);
    return name;
  });
}

function steps(raw: readonly RawStep[], job: JobDefaults, problems: Problems): StepConfig[] {
  const names = stepNames(raw, problems);
  const result: StepConfig[] = [];
  const nodes = raw.map((step, i) => {
    const path = `steps[${i}]`;
    const name = names[i] ?? '';
    const needs = stepNeeds(step, i, names, problems);
    const secrets = stepSecrets(step, path, job, problems);
    const stepEnv = variables(step.env ?? {}, `${path}.env`, problems);
    const matrix = stepMatrix(step, path, stepEnv, problems);
    const params = normalizeParams(step.type, step.params, { path: `${path}.params`, secrets, problems });
    const timeoutSeconds = stepTimeout(step.timeoutSeconds, params?.timeoutSeconds, path, job, problems);
    const retries = step.retries ?? DEFAULT_RETRIES;
    const common = {
      name,
      needs,
      labels: step.labels === undefined ? job.labels : canonicalLabels(step.labels),
      env: { ...job.env, ...stepEnv },
      secrets,
      timeoutSeconds,
      retries,
      maxAttempts: retries + 1,
      ...(matrix === undefined ? {} : { matrix }),
    };
    if (params) result.push(withParams(common, params.typed));
    // A self-need is reported above; leaving it out keeps it from also reading as a cycle.
    return { name, needs: needs.filter((need) => need !== name), matrix };
  });
  const planned = countPlannedSteps(nodes);
  if (planned > MAX_PLANNED_STEPS) problems.add('steps', tooManyStepsMessage(planned));
  const cycle = findCycle(nodes);
  if (cycle) problems.add('steps', describeCycle(cycle));
  return result;
}

function stepSecrets(step: RawStep, path: string, job: JobDefaults, problems: Problems): string[] {
  step.secrets?.forEach((secret, k) => {
    if (!job.secrets.includes(secret)) {
      problems.add(`${path}.secrets[${k}]`, `secret '${secret}' is not listed in the job's secrets; add it there`);
    }
  });
  return step.secrets === undefined ? job.secrets : [...new Set(step.secrets)];
}

/** The step's own timeout, or one given in params (as DESIGN.md's example does), or the job's. */
function stepTimeout(
  own: number | undefined,
  inParams: number | undefined,
  path: string,
  job: JobDefaults,
  problems: Problems,
): number {
  if (own !== undefined && inParams !== undefined) {
    problems.add(`${path}.params.timeoutSeconds`, 'also given as the step timeoutSeconds; keep one');
  }
  const timeoutSeconds = own ?? inParams ?? job.timeoutSeconds;
  if (timeoutSeconds > job.timeoutSeconds) {
    const where = own === undefined ? `${path}.params.timeoutSeconds` : `${path}.timeoutSeconds`;
    problems.add(where, `${timeoutSeconds} exceeds the job's timeoutSeconds (${job.timeoutSeconds})`);
  }
  return timeoutSeconds;
}

function stepNeeds(step: RawStep, index: number, names: readonly string[], problems: Problems): string[] {
  const previous = names[index - 1];
  if (step.needs === undefined) return previous === undefined ? [] : [previous];
  step.needs.forEach((need, k) => {
    const path = `steps[${index}].needs[${k}]`;
    if (need === names[index]) problems.add(path, 'a step cannot need itself');
    else if (!names.includes(need)) problems.add(path, `unknown step '${need}' (steps are: ${names.join(', ')})`);
  });
  return [...new Set(step.needs)];
}

function stepMatrix(
  step: RawStep,
  path: string,
  stepEnv: Record<string, string>,
  problems: Problems,
): Record<string, string[]> | undefined {
  if (step.matrix === undefined) return undefined;
  const matrixPath = `${path}.matrix`;
  if (Object.keys(step.matrix).length === 0) problems.add(matrixPath, 'must have at least one axis');
  const envNames = new Map<string, string>();
  const matrix = Object.entries(step.matrix).map(([axis, rawValues]) => {
    const axisPath = childPath(matrixPath, axis);
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(axis)) {
      problems.add(axisPath, `'${axis}' is not an axis name: 1-64 letters, digits, _ and -, starting with a letter`);
    }
    const envName = matrixEnvName(axis);
    const clash = envNames.get(envName);
    if (clash !== undefined) problems.add(axisPath, `sets ${envName}, as does axis '${clash}'; rename one`);
    envNames.set(envName, axis);
    if (Object.hasOwn(stepEnv, envName)) {
      problems.add(childPath(`${path}.env`, envName), `is set by matrix axis '${axis}'; rename the variable`);
    }
    const values = rawValues.map(String);
    values.forEach((value, k) => {
      if (values.indexOf(value) !== k) problems.add(`${axisPath}[${k}]`, `duplicate value '${value}'`);
      else if (!MATRIX_VALUE_PATTERN.test(value)) problems.add(`${axisPath}[${k}]`, `'${value}' is not a valid matrix value`);
    });
    return [axis, values] as const;
  });
  return Object.fromEntries(matrix);
}

function downstream(raw: readonly unknown[], id: string, problems: Problems): DownstreamTrigger[] {
  const result: DownstreamTrigger[] = [];
  raw.forEach((item, i) => {
    const path = `downstream[${i}]`;
    let trigger: DownstreamTrigger | undefined;
    if (typeof item === 'string') {
      if (NAME_PATTERN.test(item)) trigger = { job: item, parameters: {} };
      else problems.add(path, `'${item}' is not a job name: ${NAME_RULE}`);
    } else if (!isRecord(item)) {
      problems.add(path, 'must be a job name or {job, parameters}');
    } else if (conforms(DownstreamShape, item, path, problems)) {
      trigger = { job: item.job, parameters: variables(item.parameters ?? {}, `${path}.parameters`, problems) };
    }
    if (trigger?.job === id) {
      problems.add(typeof item === 'string' ? path : `${path}.job`, 'a job cannot trigger itself (that would loop forever)');
    }
    if (trigger) result.push(trigger);
  });
  return result;
}

function triggers(raw: NonNullable<RawJob['triggers']>, problems: Problems): JobTriggers {
  const result: JobTriggers = {};
  if (raw.cron !== undefined) {
    try {
      parseCron(raw.cron);
      result.cron = raw.cron.trim();
    } catch (error) {
      problems.add('triggers.cron', error instanceof Error ? error.message : String(error));
    }
  }
  if (raw.webhook !== undefined) {
    result.webhook = { secretEnv: raw.webhook.secretEnv, branches: [...new Set(raw.webhook.branches ?? [])] };
  }
  return result;
}
