/**
 * The original DistCI job format (F-Secure, 2013), still accepted:
 *
 *   {"job_id": "x", "configuration-version": "2013-02-26",
 *    "tasks": [{"type": "git-checkout", "params": {...}}, ...],
 *    "downstream_jobs": ["y"], "labels" or "node_labels": ["linux"]}
 *
 * Tasks run in sequence, which is exactly our default `needs` (the previous step), so the
 * conversion only renames fields and the result is validated as the new form. Problems are
 * reported at the paths the user wrote (`tasks[1].params.working_directory`).
 *
 * Field mapping, original → ours (from the original workers' code):
 *   job_id → id; tasks → steps; downstream_jobs → downstream; node_labels → labels;
 *   configuration-version: accepted and dropped.
 *   git-checkout:      repository, ref (e.g. `refs/heads/master`, kept as written);
 *                      branch → ref; checkout-dir → dir.
 *   execute-shell:     script; command → script; working_directory → workdir;
 *                      nodelabels (in params) → the step's labels, added to the job's labels.
 *   publish-artifacts: artifacts → paths.
 *   copy-artifacts:    job; artifacts → paths; target_directory → dir (the original always
 *                      copied from the last successful build, which is our default).
 * Any other field passes through unchanged, so the new extensions (env, needs, ...) work in
 * this form too. The original `triggers` list (`[{type: "github-webhook"}]`) had no secret,
 * so it is refused with a pointer to `triggers.webhook` rather than accepted unsigned.
 */
import { childPath, isRecord, type Rename } from './problems.js';
import type { ConfigProblem } from './types.js';

type Names = readonly (readonly [original: string, ours: string])[];

const TOP_LEVEL: Names = [
  ['job_id', 'id'],
  ['tasks', 'steps'],
  ['downstream_jobs', 'downstream'],
  ['node_labels', 'labels'],
];

const PARAMS: Readonly<Record<string, Names>> = {
  'git-checkout': [
    ['branch', 'ref'],
    ['checkout-dir', 'dir'],
  ],
  'execute-shell': [
    ['command', 'script'],
    ['working_directory', 'workdir'],
  ],
  'publish-artifacts': [['artifacts', 'paths']],
  'copy-artifacts': [
    ['artifacts', 'paths'],
    ['target_directory', 'dir'],
  ],
};

export interface Conversion {
  value: Record<string, unknown>;
  renames: Rename[];
  problems: ConfigProblem[];
}

export function isOriginalForm(value: unknown): value is Record<string, unknown> {
  return isRecord(value) && (Object.hasOwn(value, 'tasks') || Object.hasOwn(value, 'job_id'));
}

export function fromOriginalForm(input: Record<string, unknown>): Conversion {
  const out: Conversion = { value: {}, renames: [], problems: [] };
  const { 'configuration-version': version, triggers, ...rest } = input;
  if (version !== undefined && typeof version !== 'string') {
    out.problems.push({ path: 'configuration-version', message: 'must be a string such as "2013-02-26"' });
  }
  const job = rename(rest, TOP_LEVEL, '', '', out);
  if (Array.isArray(triggers)) {
    out.problems.push({
      path: 'triggers',
      message:
        'the original trigger list is not supported (its webhooks were unsigned); ' +
        'write triggers: {webhook: {secretEnv: NAME}} instead',
    });
  } else if (triggers !== undefined) {
    job.triggers = triggers;
  }
  if (Array.isArray(job.steps)) {
    const jobLabels = Array.isArray(job.labels) ? (job.labels as unknown[]) : [];
    const tasksPath = Object.hasOwn(input, 'tasks') ? 'tasks' : 'steps';
    job.steps = job.steps.map((task: unknown, i) => fromTask(task, i, tasksPath, jobLabels, out));
  }
  out.value = job;
  return out;
}

function fromTask(task: unknown, index: number, tasksPath: string, jobLabels: unknown[], out: Conversion): unknown {
  if (!isRecord(task) || !isRecord(task.params)) return task;
  const original = childPath(tasksPath, index);
  const ours = childPath('steps', index);
  const names = typeof task.type === 'string' ? (PARAMS[task.type] ?? []) : [];
  const { nodelabels, ...params } = rename(task.params, names, `${original}.params`, `${ours}.params`, out);
  const step: Record<string, unknown> = { ...task, params };
  if (nodelabels !== undefined) {
    if (Object.hasOwn(task, 'labels')) {
      out.problems.push({ path: `${original}.params.nodelabels`, message: 'give either params.nodelabels or labels, not both' });
    } else {
      // The job's labels go last so that indexes in problems still point into nodelabels.
      step.labels = Array.isArray(nodelabels) ? [...(nodelabels as unknown[]), ...jobLabels] : nodelabels;
      out.renames.push([`${ours}.labels`, `${original}.params.nodelabels`]);
    }
  }
  return step;
}

/** Returns a copy of `obj` with original field names replaced by ours, recording each rename. */
function rename(
  obj: Record<string, unknown>,
  names: Names,
  originalBase: string,
  oursBase: string,
  out: Conversion,
): Record<string, unknown> {
  const renamed = new Map<string, string>();
  const dropped = new Set<string>();
  for (const [original, ours] of names) {
    if (!Object.hasOwn(obj, original)) continue;
    if (Object.hasOwn(obj, ours)) {
      out.problems.push({ path: childPath(originalBase, original), message: `give either ${original} or ${ours}, not both` });
      dropped.add(original);
      continue;
    }
    renamed.set(original, ours);
    out.renames.push([childPath(oursBase, ours), childPath(originalBase, original)]);
  }
  return Object.fromEntries(
    Object.entries(obj)
      .filter(([key]) => !dropped.has(key))
      .map(([key, value]) => [renamed.get(key) ?? key, value]),
  );
}
