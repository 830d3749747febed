/**
 * The shape of a job config in the new form, as TypeBox schemas. Only the shape lives
 * here; rules that span fields (needs, secrets, paths, cron) are in `normalize.ts`.
 * `errorMessage` is ours: `problems.ts` prefers it to TypeBox's generic wording.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { MAX_RETRIES, MAX_TIMEOUT_SECONDS, STATUS_PROVIDERS, STEP_TYPES, type StepType } from './types.js';

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
export const NAME_RULE = '1-100 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit';
export const VARIABLE_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const VARIABLE_RULE = 'letters, digits and _, not starting with a digit';
/** The ticket label rule of `../ticket.ts`: step labels become ticket labels. */
const LABEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._=-]{0,63}$/;
export const MATRIX_VALUE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}$/;

const strict = { additionalProperties: false } as const;

const Name = () => Type.String({ pattern: NAME_PATTERN.source, errorMessage: `must be ${NAME_RULE}` });
const Variable = () =>
  Type.String({ pattern: VARIABLE_PATTERN.source, errorMessage: `must be a variable name: ${VARIABLE_RULE}` });
const Label = () =>
  Type.String({
    pattern: LABEL_PATTERN.source,
    errorMessage: 'must be a label of 1-64 characters from A-Z a-z 0-9 . _ = -, starting with a letter or digit',
  });
const Scalar = () =>
  Type.Union([Type.String(), Type.Number(), Type.Boolean()], { errorMessage: 'must be a string, number or boolean' });
const ScalarMap = () => Type.Record(Type.String(), Scalar(), { errorMessage: 'must be a mapping of NAME: value' });
const Seconds = () =>
  Type.Integer({
    minimum: 1,
    maximum: MAX_TIMEOUT_SECONDS,
    errorMessage: `must be a whole number of seconds from 1 to ${MAX_TIMEOUT_SECONDS}`,
  });
const List = <T extends TSchema>(item: T, what: string, minItems = 0) =>
  Type.Array(item, { minItems, errorMessage: `must be a ${minItems > 0 ? 'non-empty ' : ''}list of ${what}` });
const RelativePath = () =>
  Type.String({ minLength: 1, maxLength: 1000, errorMessage: 'must be a non-empty path relative to the workspace' });
const Glob = () => Type.String({ minLength: 1, maxLength: 1000, errorMessage: 'must be a non-empty glob' });

export const GitCheckoutShape = Type.Object(
  {
    repository: Type.String({
      minLength: 1,
      maxLength: 2000,
      errorMessage: 'must be a repository URL or path that git accepts',
    }),
    ref: Type.Optional(Type.String({ minLength: 1, maxLength: 250, errorMessage: 'must be a branch, tag or commit' })),
    dir: Type.Optional(RelativePath()),
    depth: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
        errorMessage: 'must be an integer >= 1, or null for the full history',
      }),
    ),
    credentialsSecret: Type.Optional(Variable()),
  },
  strict,
);

export const ExecuteShellShape = Type.Object(
  {
    script: Type.String({ pattern: '\\S', errorMessage: 'must be a non-empty script' }),
    workdir: Type.Optional(RelativePath()),
    shell: Type.Optional(Type.Literal('bash', { errorMessage: "must be 'bash' (the only shell supported)" })),
    /** Accepted here because DESIGN.md's example puts it here; it means the step's timeout. */
    timeoutSeconds: Type.Optional(Seconds()),
  },
  strict,
);

export const PublishArtifactsShape = Type.Object(
  {
    paths: List(Glob(), 'globs relative to the workspace', 1),
    maxBytes: Type.Optional(Type.Integer({ minimum: 1, errorMessage: 'must be a positive whole number of bytes' })),
  },
  strict,
);

export const CopyArtifactsShape = Type.Object(
  {
    job: Name(),
    build: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1 }), Type.Literal('lastSuccessful')], {
        errorMessage: "must be a build number >= 1 or 'lastSuccessful'",
      }),
    ),
    paths: Type.Optional(List(Glob(), 'globs over the source build artifacts', 1)),
    dir: Type.Optional(RelativePath()),
  },
  strict,
);

export const PARAMS_SHAPES = {
  'git-checkout': GitCheckoutShape,
  'execute-shell': ExecuteShellShape,
  'publish-artifacts': PublishArtifactsShape,
  'copy-artifacts': CopyArtifactsShape,
} as const satisfies Record<StepType, TSchema>;

const MatrixValue = () =>
  Type.Union([Type.String({ pattern: MATRIX_VALUE_PATTERN.source }), Type.Integer({ minimum: 0 })], {
    errorMessage:
      'must be 1-64 characters from A-Z a-z 0-9 . _ : + -, starting with a letter or digit ' +
      '(quote versions such as "3.10": unquoted, YAML reads them as numbers)',
  });

export const StepShape = Type.Object(
  {
    name: Type.Optional(Name()),
    type: Type.Union(
      STEP_TYPES.map((t) => Type.Literal(t)),
      { errorMessage: `must be one of ${STEP_TYPES.join(', ')}` },
    ),
    needs: Type.Optional(List(Name(), 'step names')),
    labels: Type.Optional(List(Label(), 'labels')),
    env: Type.Optional(ScalarMap()),
    secrets: Type.Optional(List(Variable(), 'secret names')),
    timeoutSeconds: Type.Optional(Seconds()),
    retries: Type.Optional(
      Type.Integer({ minimum: 0, maximum: MAX_RETRIES, errorMessage: `must be an integer from 0 to ${MAX_RETRIES}` }),
    ),
    matrix: Type.Optional(
      Type.Record(Type.String(), List(MatrixValue(), 'values', 1), { errorMessage: 'must be a mapping of axis: [values]' }),
    ),
    /** Checked per type by `PARAMS_SHAPES`, so that errors name the field, not "a union". */
    params: Type.Unknown(),
  },
  strict,
);

export const DownstreamShape = Type.Object({ job: Name(), parameters: Type.Optional(ScalarMap()) }, strict);

export const StatusShape = Type.Object(
  {
    provider: Type.Union(
      STATUS_PROVIDERS.map((p) => Type.Literal(p)),
      { errorMessage: `must be one of ${STATUS_PROVIDERS.join(', ')}` },
    ),
    apiUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, errorMessage: 'must be the http(s) URL of the API' })),
    repository: Type.Optional(
      Type.String({ minLength: 1, maxLength: 500, errorMessage: 'must be owner/name (GitHub) or a project path or id (GitLab)' }),
    ),
    tokenSecret: Variable(),
    context: Type.Optional(Type.String({ pattern: '^\\S.{0,99}$', errorMessage: 'must be a name of 1-100 characters, not starting with a space' })),
  },
  strict,
);

export const JobShape = Type.Object(
  {
    id: Type.Optional(Name()),
    description: Type.Optional(Type.String({ maxLength: 10_000 })),
    labels: Type.Optional(List(Label(), 'labels')),
    env: Type.Optional(ScalarMap()),
    secrets: Type.Optional(List(Variable(), 'secret names')),
    timeoutSeconds: Type.Optional(Seconds()),
    concurrency: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1000, errorMessage: 'must be an integer from 1 to 1000' }),
    ),
    parameters: Type.Optional(
      Type.Record(
        Type.String(),
        Type.Object(
          { default: Type.Optional(Scalar()), description: Type.Optional(Type.String({ maxLength: 10_000 })) },
          strict,
        ),
        { errorMessage: 'must be a mapping of NAME: {default, description}' },
      ),
    ),
    steps: List(StepShape, 'steps', 1),
    /** Items are job names or `{job, parameters}`; checked one by one in `normalize.ts`. */
    downstream: Type.Optional(List(Type.Unknown(), 'job names or {job, parameters}')),
    triggers: Type.Optional(
      Type.Object(
        {
          cron: Type.Optional(Type.String({ errorMessage: 'must be a cron expression such as "0 3 * * *"' })),
          webhook: Type.Optional(
            Type.Object(
              {
                secretEnv: Variable(),
                branches: Type.Optional(
                  List(Type.String({ minLength: 1, maxLength: 250, errorMessage: 'must be a branch name' }), 'branch names'),
                ),
              },
              strict,
            ),
          ),
        },
        strict,
      ),
    ),
    status: Type.Optional(StatusShape),
  },
  strict,
);

export type RawJob = Static<typeof JobShape>;
export type RawStep = Static<typeof StepShape>;
