/**
 * Matrix expansion: each matrix step becomes one planned step per combination of values,
 * named `name[axis=value,axis2=value]` with axes in declaration order (the first axis
 * varies slowest). Needs follow: a step needing a matrix step waits for every expansion
 * of it (fan-in), and a matrix step's own needs apply to each expansion.
 */
import { ValidationError } from '../errors.js';
import { MAX_PLANNED_STEPS, type JobConfig, type StepConfig } from './types.js';

/**
 * A step as the build runs it. `name` is unique within the build (the declared name, plus
 * the matrix suffix), `needs` names planned steps, and `env` includes `MATRIX_<AXIS>`.
 */
export type PlannedStep = StepConfig & {
  /** The declared step this was expanded from. */
  step: string;
  /** This expansion's value per axis; {} for a plain step. */
  matrixValues: Record<string, string>;
};

/** `node-version` → `MATRIX_NODE_VERSION`. */
export function matrixEnvName(axis: string): string {
  return `MATRIX_${axis.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

export function combinations(matrix: Readonly<Record<string, readonly string[]>> | undefined): Record<string, string>[] {
  let combos: Record<string, string>[] = [{}];
  for (const [axis, values] of Object.entries(matrix ?? {})) {
    combos = combos.flatMap((combo) => values.map((value) => ({ ...combo, [axis]: value })));
  }
  return combos;
}

export function countPlannedSteps(steps: readonly Pick<StepConfig, 'matrix'>[]): number {
  return steps.reduce(
    (sum, step) => sum + Object.values(step.matrix ?? {}).reduce((product, values) => product * values.length, 1),
    0,
  );
}

export function tooManyStepsMessage(count: number): string {
  return `the matrix expands to ${count} steps; at most ${MAX_PLANNED_STEPS} are allowed per job (split the job or trim an axis)`;
}

export function expandSteps(config: Pick<JobConfig, 'steps'>): PlannedStep[] {
  const count = countPlannedSteps(config.steps);
  if (count > MAX_PLANNED_STEPS) {
    const message = tooManyStepsMessage(count);
    throw new ValidationError(`steps: ${message}`, { errors: [{ path: 'steps', message }] });
  }
  const expansions = new Map<string, { name: string; values: Record<string, string> }[]>();
  for (const step of config.steps) {
    expansions.set(
      step.name,
      combinations(step.matrix).map((values) => ({ name: expandedName(step.name, values), values })),
    );
  }
  return config.steps.flatMap((step) => {
    const needs = step.needs.flatMap((need) => {
      const names = expansions.get(need)?.map((e) => e.name);
      if (!names) {
        const message = `step '${step.name}' needs unknown step '${need}'`;
        throw new ValidationError(`steps: ${message}`, { errors: [{ path: 'steps', message }] });
      }
      return names;
    });
    return (expansions.get(step.name) ?? []).map(({ name, values }): PlannedStep => {
      const env = { ...step.env, ...Object.fromEntries(Object.entries(values).map(([a, v]) => [matrixEnvName(a), v])) };
      return { ...step, name, needs, env, step: step.name, matrixValues: values };
    });
  });
}

function expandedName(name: string, values: Record<string, string>): string {
  const entries = Object.entries(values);
  return entries.length === 0 ? name : `${name}[${entries.map(([axis, value]) => `${axis}=${value}`).join(',')}]`;
}
