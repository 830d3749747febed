/**
 * Glossary
 * - job: a named, versioned pipeline configuration; each trigger of it is a build.
 * - step: one unit of work done by a worker whose kind is the step's `type`.
 * - needs: the steps that must succeed before a step may start (the edges of the DAG).
 *   A step with no needs starts as soon as the build does, so steps fan out in parallel.
 * - matrix: axes of values; a matrix step runs once per combination of values.
 * - planned step: a step after matrix expansion (see `matrix.ts`); what the build-control
 *   worker turns into tickets, one per planned step.
 * - labels: worker capabilities a step requires (ticket labels, see `../ticket.ts`).
 * - secrets: names of secrets a step may read; their values live outside the job config.
 *
 * Everything here is the normalized form: every default applied, every field present
 * unless it is genuinely optional (marked `?`), so consumers never re-derive defaults.
 */

export const STEP_TYPES = ['git-checkout', 'execute-shell', 'publish-artifacts', 'copy-artifacts'] as const;
export type StepType = (typeof STEP_TYPES)[number];

export const DEFAULT_JOB_TIMEOUT_SECONDS = 3600;
export const MAX_TIMEOUT_SECONDS = 7 * 24 * 3600;
/** Extra attempts after infrastructure errors (worker lost); a build failure is never retried. */
export const DEFAULT_RETRIES = 2;
export const MAX_RETRIES = 10;
/** Most planned steps (after matrix expansion) one build may have. */
export const MAX_PLANNED_STEPS = 256;

export interface GitCheckoutParams {
  /** Anything `git clone` accepts: URL, scp-like address, local path, file:// URL. */
  repository: string;
  /** Branch, tag or commit; absent means the HEAD of the remote's default branch. */
  ref?: string;
  /** Target directory relative to the workspace. */
  dir: string;
  /** Shallow-clone depth; absent means the full history. */
  depth?: number;
  /** Name of a secret (listed in the step's secrets) holding the credentials. */
  credentialsSecret?: string;
}

export interface ExecuteShellParams {
  script: string;
  /** Working directory relative to the workspace. */
  workdir: string;
  shell: 'bash';
}

export interface PublishArtifactsParams {
  /** Globs relative to the workspace. */
  paths: string[];
  /** Refuse to publish more than this many bytes in total. */
  maxBytes?: number;
}

export interface CopyArtifactsParams {
  job: string;
  build: number | 'lastSuccessful';
  /** Globs over the source build's artifact paths. */
  paths: string[];
  /** Target directory relative to the workspace. */
  dir: string;
}

export interface StepParamsByType {
  'git-checkout': GitCheckoutParams;
  'execute-shell': ExecuteShellParams;
  'publish-artifacts': PublishArtifactsParams;
  'copy-artifacts': CopyArtifactsParams;
}

interface StepCommon {
  /** Unique within the job. */
  name: string;
  /** Names of declared steps that must succeed first; [] starts with the build. */
  needs: string[];
  /** Worker labels required; the job's labels unless the step gives its own. Sorted. */
  labels: string[];
  /** Effective environment: the job's env overlaid with the step's. */
  env: Record<string, string>;
  /** Secrets this step may read; the job's secrets unless the step narrows them. */
  secrets: string[];
  timeoutSeconds: number;
  /** Extra attempts after infrastructure errors; `maxAttempts = retries + 1`. */
  retries: number;
  maxAttempts: number;
  /** Axis name → values, in declaration order; absent for a plain step. */
  matrix?: Record<string, string[]>;
}

/** A declared step; `type` narrows `params`. */
export type StepConfig = { [K in StepType]: StepCommon & { type: K; params: StepParamsByType[K] } }[StepType];

export interface JobParameter {
  /** Absent: the parameter must be given when the build is triggered. */
  default?: string;
  description: string;
}

export interface DownstreamTrigger {
  job: string;
  parameters: Record<string, string>;
}

export interface WebhookTrigger {
  /** Environment variable (on the frontends) holding the signing secret. */
  secretEnv: string;
  /** Branches whose pushes trigger a build; [] means every branch. */
  branches: string[];
}

export interface JobTriggers {
  /** 5-field cron expression, evaluated in UTC (see `cron.ts`). */
  cron?: string;
  webhook?: WebhookTrigger;
}

export const STATUS_PROVIDERS = ['github', 'gitlab'] as const;
export type StatusProvider = (typeof STATUS_PROVIDERS)[number];

/** Where and how a build reports its start and result on the commit it built (see `commit-status.ts`). */
export interface CommitStatusConfig {
  provider: StatusProvider;
  /** The forge's API root, e.g. `https://api.github.com` or `https://gitlab.example.org/api/v4`. */
  apiUrl: string;
  /** GitHub `owner/name`, GitLab project path or numeric id; absent: read from the webhook event's repository URL. */
  repository?: string;
  /** Secret holding the API token. Given to the commit-status worker only, never to steps. */
  tokenSecret: string;
  /** The status's name on the commit (GitHub `context`, GitLab `name`). */
  context: string;
}

export interface JobConfig {
  id: string;
  description: string;
  /** Default labels of every step. Sorted, de-duplicated. */
  labels: string[];
  env: Record<string, string>;
  /** Secret names the job may use. */
  secrets: string[];
  /** Limit for the whole build. */
  timeoutSeconds: number;
  /** Most builds of this job running at once; absent means no limit. */
  concurrency?: number;
  /** Build parameters, given to every step as environment variables. */
  parameters: Record<string, JobParameter>;
  steps: StepConfig[];
  /** Jobs triggered after a successful build. */
  downstream: DownstreamTrigger[];
  triggers: JobTriggers;
  /** Report build start and result on the built commit (webhook builds only). */
  status?: CommitStatusConfig;
}

/** A problem with a job config: `path` points at the field (`steps[2].params.script`). */
export interface ConfigProblem {
  path: string;
  message: string;
}
