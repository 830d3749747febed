/**
 * The job configuration model: text (YAML or JSON, new or original DistCI form) in, a
 * normalized `JobConfig` out, or one ValidationError listing every problem as
 * `path: problem` (also as `details.errors: {path, message}[]`). Pure: no I/O.
 *
 * Validation runs in two stages. The shape (TypeBox, `schema.ts`) comes first, because the
 * rules that span fields need known types; if the shape is wrong, those problems are
 * reported alone. Then per-type params and cross-field rules (`normalize.ts`) run together.
 */
import { configError, conforms, isRecord, Problems } from './problems.js';
import { parseConfigText, type ConfigContentType } from './config-text.js';
import { fromOriginalForm, isOriginalForm } from './original-form.js';
import { normalizeJob } from './normalize.js';
import { JobShape, PARAMS_SHAPES } from './schema.js';
import { STEP_TYPES, type JobConfig, type StepType } from './types.js';

export type * from './types.js';
export {
  DEFAULT_JOB_TIMEOUT_SECONDS,
  DEFAULT_RETRIES,
  MAX_PLANNED_STEPS,
  MAX_RETRIES,
  MAX_TIMEOUT_SECONDS,
  STEP_TYPES,
} from './types.js';
export type { ConfigContentType } from './config-text.js';

/**
 * @param nameFromUrl the job name from `PUT /api/v1/jobs/{job}`; the config's `id` may be
 *   left out then, and must equal it if given.
 */
export function parseJobConfig(text: string, contentType: ConfigContentType, nameFromUrl?: string): JobConfig {
  return validateJobConfig(parseConfigText(text, contentType), nameFromUrl);
}

/** The same checks for data that is already parsed (e.g. a stored or decoded config). */
export function validateJobConfig(value: unknown, nameFromUrl?: string): JobConfig {
  const conversion = isOriginalForm(value) ? fromOriginalForm(value) : undefined;
  const input = conversion ? conversion.value : value;
  const problems = new Problems(conversion?.renames);
  conversion?.problems.forEach((p) => problems.addVerbatim(p));
  if (!isRecord(input)) {
    const message = 'the job config must be a mapping with at least `steps` (and `id` unless the URL names the job)';
    throw configError([{ path: '', message }]);
  }
  if (!conforms(JobShape, input, '', problems)) {
    paramsShapeProblems(input, problems);
    throw configError(problems.list);
  }
  const config = normalizeJob(input, nameFromUrl, problems);
  problems.throwIfAny();
  return config;
}

/** When the job's shape is wrong the rules stage never runs; still report params shape problems. */
function paramsShapeProblems(input: Record<string, unknown>, problems: Problems): void {
  if (!Array.isArray(input.steps)) return;
  input.steps.forEach((step: unknown, i) => {
    if (!isRecord(step) || !Object.hasOwn(step, 'params') || !isStepType(step.type)) return;
    conforms(PARAMS_SHAPES[step.type], step.params, `steps[${i}].params`, problems);
  });
}

function isStepType(value: unknown): value is StepType {
  return STEP_TYPES.some((type) => type === value);
}
