import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValidationError } from '../../../src/core/errors.js';
import { parseJobConfig, type JobConfig } from '../../../src/core/jobs/job-config.js';

/** The example from DESIGN.md, "Interfaces", verbatim. */
const DESIGN_EXAMPLE = `id: hello
steps:
  - name: checkout
    type: git-checkout
    params: {repository: https://example.org/repo.git, ref: main, dir: src}
  - name: test
    type: execute-shell
    needs: [checkout]          # default: the previous step
    labels: [linux]
    params: {script: "npm ci && npm test", workdir: src, timeoutSeconds: 600}
  - name: publish
    type: publish-artifacts
    params: {paths: ["src/dist/*.tgz"]}
downstream: [deploy]
triggers: {cron: "0 3 * * *", webhook: {secretEnv: HELLO_WEBHOOK_SECRET}}
`;

const STEP_DEFAULTS = { labels: [], env: {}, secrets: [], timeoutSeconds: 3600, retries: 2, maxAttempts: 3 };

function problemsOf(run: () => unknown): { path: string; message: string }[] {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ValidationError, `expected a ValidationError, got ${String(error)}`);
    assert.equal(error.code, 'invalid_request');
    const errors = error.details.errors as { path: string; message: string }[];
    assert.equal(error.message, errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; '));
    return errors;
  }
  assert.fail('expected the config to be refused');
}

const json = (value: unknown, nameFromUrl?: string) => parseJobConfig(JSON.stringify(value), 'json', nameFromUrl);

describe('job config: accepted forms', () => {
  test('the DESIGN.md example parses into the normalized config', () => {
    const expected: JobConfig = {
      id: 'hello',
      description: '',
      labels: [],
      env: {},
      secrets: [],
      timeoutSeconds: 3600,
      parameters: {},
      steps: [
        {
          ...STEP_DEFAULTS,
          name: 'checkout',
          type: 'git-checkout',
          params: { repository: 'https://example.org/repo.git', ref: 'main', dir: 'src', depth: 1 },
          needs: [],
        },
        {
          ...STEP_DEFAULTS,
          name: 'test',
          type: 'execute-shell',
          params: { script: 'npm ci && npm test', workdir: 'src', shell: 'bash' },
          needs: ['checkout'],
          labels: ['linux'],
          timeoutSeconds: 600,
        },
        {
          ...STEP_DEFAULTS,
          name: 'publish',
          type: 'publish-artifacts',
          params: { paths: ['src/dist/*.tgz'] },
          needs: ['test'],
        },
      ],
      downstream: [{ job: 'deploy', parameters: {} }],
      triggers: { cron: '0 3 * * *', webhook: { secretEnv: 'HELLO_WEBHOOK_SECRET', branches: [] } },
    };
    assert.deepEqual(parseJobConfig(DESIGN_EXAMPLE, 'yaml'), expected);
  });

  test('the same config written as JSON parses to the same result', () => {
    const fromYaml = parseJobConfig(DESIGN_EXAMPLE, 'yaml');
    const asJson = JSON.stringify({
      id: 'hello',
      steps: [
        { name: 'checkout', type: 'git-checkout', params: { repository: 'https://example.org/repo.git', ref: 'main', dir: 'src' } },
        {
          name: 'test',
          type: 'execute-shell',
          needs: ['checkout'],
          labels: ['linux'],
          params: { script: 'npm ci && npm test', workdir: 'src', timeoutSeconds: 600 },
        },
        { name: 'publish', type: 'publish-artifacts', params: { paths: ['src/dist/*.tgz'] } },
      ],
      downstream: ['deploy'],
      triggers: { cron: '0 3 * * *', webhook: { secretEnv: 'HELLO_WEBHOOK_SECRET' } },
    }, null, '\t');
    assert.deepEqual(parseJobConfig(asJson, 'json'), fromYaml);
  });

  test('the original DistCI form means the same steps in sequence', () => {
    // doc/distci-job-config.json of the original project, plus its other task types.
    const original = {
      'configuration-version': '2013-02-26',
      job_id: 'distci',
      node_labels: ['linux'],
      tasks: [
        {
          type: 'git-checkout',
          params: { repository: 'https://github.com/F-Secure/distci.git', ref: 'refs/heads/master', 'checkout-dir': 'distci' },
        },
        { type: 'execute-shell', params: { working_directory: 'distci', script: 'make tests\nmake\n', nodelabels: ['python2'] } },
        { type: 'execute-shell', params: { working_directory: 'distci', command: 'make dist' } },
        { type: 'publish-artifacts', params: { artifacts: ['distci/dist/*.egg', 'distci/build.log'] } },
        { type: 'copy-artifacts', params: { job: 'docs', artifacts: ['*.html'], target_directory: 'distci/docs' } },
      ],
      downstream_jobs: ['deploy'],
    };
    const ours = {
      id: 'distci',
      labels: ['linux'],
      steps: [
        { type: 'git-checkout', params: { repository: 'https://github.com/F-Secure/distci.git', ref: 'refs/heads/master', dir: 'distci' } },
        { type: 'execute-shell', labels: ['python2', 'linux'], params: { workdir: 'distci', script: 'make tests\nmake\n' } },
        { type: 'execute-shell', params: { workdir: 'distci', script: 'make dist' } },
        { type: 'publish-artifacts', params: { paths: ['distci/dist/*.egg', 'distci/build.log'] } },
        { type: 'copy-artifacts', params: { job: 'docs', paths: ['*.html'], dir: 'distci/docs' } },
      ],
      downstream: ['deploy'],
    };
    const converted = json(original);
    assert.deepEqual(converted, json(ours));
    assert.deepEqual(
      converted.steps.map((s) => [s.name, s.needs, s.labels]),
      [
        ['git-checkout-0', [], ['linux']],
        ['execute-shell-1', ['git-checkout-0'], ['linux', 'python2']],
        ['execute-shell-2', ['execute-shell-1'], ['linux']],
        ['publish-artifacts-3', ['execute-shell-2'], ['linux']],
        ['copy-artifacts-4', ['publish-artifacts-3'], ['linux']],
      ],
    );
    assert.deepEqual(converted.steps[4]?.params, { job: 'docs', build: 'lastSuccessful', paths: ['*.html'], dir: 'distci/docs' });
  });

  test('problems in the original form point at the fields as the user wrote them', () => {
    const errors = problemsOf(() =>
      json({
        job_id: 'x',
        tasks: [
          { type: 'execute-shell', params: { working_directory: '../up', command: 'make', nodelabels: ['bad label'] } },
          { type: 'publish-artifacts', params: { artifacts: [] } },
        ],
        triggers: [{ type: 'github-webhook', params: null }],
      }),
    );
    assert.deepEqual(
      errors.map((e) => e.path),
      ['triggers', 'tasks[0].params.nodelabels[0]', 'tasks[1].params.artifacts'],
    );
    assert.match(errors[0]?.message ?? '', /triggers: \{webhook: \{secretEnv: NAME\}\}/);
  });

  test('an original field given together with its new name is refused', () => {
    const errors = problemsOf(() =>
      json({ job_id: 'x', id: 'x', tasks: [{ type: 'copy-artifacts', params: { job: 'a', artifacts: ['*'], paths: ['*'] } }] }),
    );
    assert.deepEqual(errors, [
      { path: 'job_id', message: 'give either job_id or id, not both' },
      { path: 'tasks[0].params.artifacts', message: 'give either artifacts or paths, not both' },
    ]);
  });

  test('the same problems in the original form, once the shape is right, also keep original names', () => {
    const errors = problemsOf(() =>
      json({ job_id: 'x', tasks: [{ type: 'execute-shell', params: { working_directory: '../up', command: 'make' } }] }),
    );
    assert.deepEqual(errors, [
      { path: 'tasks[0].params.working_directory', message: "'../up' contains '..'; paths must stay inside the workspace" },
    ]);
  });
});

describe('job config: defaults', () => {
  test('unnamed steps are called <type>-<index>, made unique against explicit names', () => {
    const config = json({
      id: 'j',
      steps: [
        { type: 'execute-shell', params: { script: 'a' } },
        { name: 'execute-shell-2', type: 'execute-shell', params: { script: 'b' } },
        { type: 'execute-shell', params: { script: 'c' } },
      ],
    });
    assert.deepEqual(
      config.steps.map((s) => s.name),
      ['execute-shell-0', 'execute-shell-2', 'execute-shell-2-2'],
    );
  });

  test('needs default to the previous step; [] starts a step with the build', () => {
    const config = json({
      id: 'j',
      steps: [
        { name: 'a', type: 'execute-shell', params: { script: 'a' } },
        { name: 'b', type: 'execute-shell', params: { script: 'b' } },
        { name: 'c', type: 'execute-shell', needs: [], params: { script: 'c' } },
        { name: 'd', type: 'execute-shell', needs: ['a', 'c', 'a'], params: { script: 'd' } },
      ],
    });
    assert.deepEqual(
      config.steps.map((s) => s.needs),
      [[], ['a'], [], ['a', 'c']],
    );
  });

  test('job labels, env, secrets and timeout apply to every step unless the step gives its own', () => {
    const config = parseJobConfig(
      `
id: j
labels: [linux, docker, linux]
env: {A: job, B: 2, C: true}
secrets: [TOKEN, KEY]
timeoutSeconds: 1800
concurrency: 2
description: builds things
parameters:
  TARGET: {default: prod, description: where to deploy}
  VERSION: {}
steps:
  - name: inherit
    type: execute-shell
    params: {script: make}
  - name: own
    type: execute-shell
    labels: [mac]
    env: {A: step}
    secrets: [KEY]
    timeoutSeconds: 60
    retries: 0
    params: {script: make}
downstream: [{job: deploy, parameters: {TARGET: staging, N: 3}}]
triggers: {webhook: {secretEnv: HOOK, branches: [main, main, dev]}}
`,
      'yaml',
    );
    const [inherit, own] = config.steps;
    assert.deepEqual(config.labels, ['docker', 'linux']);
    assert.deepEqual(config.env, { A: 'job', B: '2', C: 'true' });
    assert.deepEqual(inherit && { ...inherit, params: undefined }, {
      name: 'inherit',
      type: 'execute-shell',
      params: undefined,
      needs: [],
      labels: ['docker', 'linux'],
      env: { A: 'job', B: '2', C: 'true' },
      secrets: ['TOKEN', 'KEY'],
      timeoutSeconds: 1800,
      retries: 2,
      maxAttempts: 3,
    });
    assert.deepEqual(
      own && [own.labels, own.env, own.secrets, own.timeoutSeconds, own.retries, own.maxAttempts],
      [['mac'], { A: 'step', B: '2', C: 'true' }, ['KEY'], 60, 0, 1],
    );
    assert.equal(config.concurrency, 2);
    assert.equal(config.description, 'builds things');
    assert.deepEqual(config.parameters, {
      TARGET: { default: 'prod', description: 'where to deploy' },
      VERSION: { description: '' },
    });
    assert.deepEqual(config.downstream, [{ job: 'deploy', parameters: { TARGET: 'staging', N: '3' } }]);
    assert.deepEqual(config.triggers, { webhook: { secretEnv: 'HOOK', branches: ['main', 'dev'] } });
  });

  test('params get their per-type defaults', () => {
    const config = json({
      id: 'j',
      secrets: ['GIT_CREDS'],
      steps: [
        { type: 'git-checkout', params: { repository: '/srv/git/app' } },
        { type: 'git-checkout', params: { repository: 'file:///srv/git/app', ref: 'v1.2.0', dir: 'a' } },
        { type: 'git-checkout', params: { repository: 'git@example.org:app.git', ref: '3f2a9c1d', credentialsSecret: 'GIT_CREDS' } },
        { type: 'git-checkout', params: { repository: 'https://example.org/app.git', ref: 'main', depth: null } },
        { type: 'git-checkout', params: { repository: 'https://example.org/app.git', depth: 50 } },
        { type: 'execute-shell', params: { script: 'make' } },
        { type: 'publish-artifacts', params: { paths: ['out/**'], maxBytes: 1000 } },
        { type: 'copy-artifacts', params: { job: 'lib' } },
        { type: 'copy-artifacts', params: { job: 'lib', build: 7, paths: ['*.so'], dir: 'vendor' } },
      ],
    });
    assert.deepEqual(
      config.steps.map((s) => s.params),
      [
        { repository: '/srv/git/app', dir: '.' },
        { repository: 'file:///srv/git/app', ref: 'v1.2.0', dir: 'a', depth: 1 },
        { repository: 'git@example.org:app.git', ref: '3f2a9c1d', dir: '.', credentialsSecret: 'GIT_CREDS' },
        { repository: 'https://example.org/app.git', ref: 'main', dir: '.' },
        { repository: 'https://example.org/app.git', dir: '.', depth: 50 },
        { script: 'make', workdir: '.', shell: 'bash' },
        { paths: ['out/**'], maxBytes: 1000 },
        { job: 'lib', build: 'lastSuccessful', paths: ['**'], dir: '.' },
        { job: 'lib', build: 7, paths: ['*.so'], dir: 'vendor' },
      ],
    );
  });

  test('the job name comes from the URL when the config leaves id out', () => {
    const steps = [{ type: 'execute-shell', params: { script: 'make' } }];
    assert.equal(json({ steps }, 'from-url').id, 'from-url');
    assert.equal(json({ id: 'same', steps }, 'same').id, 'same');
    assert.deepEqual(problemsOf(() => json({ steps })), [{ path: 'id', message: 'required' }]);
    assert.deepEqual(problemsOf(() => json({ id: 'a', steps }, 'b')), [
      { path: 'id', message: "'a' differs from the job name 'b' in the URL; make them equal or leave id out" },
    ]);
    assert.deepEqual(
      problemsOf(() => json({ steps }, 'bad name')).map((e) => e.path),
      ['id'],
    );
  });
});

describe('job config: syntax errors carry line and column', () => {
  test('YAML', () => {
    const errors = problemsOf(() => parseJobConfig('id: x\nsteps: [a\nother: 1\n', 'yaml'));
    assert.match(errors[0]?.message ?? '', /^job config is not valid YAML: line 3, column 1: /);
  });

  test('YAML duplicate keys', () => {
    const errors = problemsOf(() => parseJobConfig('id: x\nsteps: []\nid: y\n', 'yaml'));
    assert.equal(errors[0]?.message, 'job config is not valid YAML: line 3, column 1: Map keys must be unique');
  });

  test('JSON, including what YAML would quietly accept', () => {
    const cases: [string, string][] = [
      ['{\n  "id": "x",\n  "steps": }', 'line 3, column 12: expected a value, found \'}\''],
      ['{"id": "x",}', "line 1, column 12: expected a property name in double quotes, found '}'"],
      ['{\n"id": "x"\n"steps": []}', "line 3, column 1: expected ',' or '}', found '\"'"],
      ['{"id": "x", "id": "y"}', 'line 1, column 13: duplicate key "id"'],
      ['{"id": "a\nb"}', 'line 1, column 10: control character in a string: escape it (\\n, \\t, ...)'],
      ['{"steps": [1, 2', "line 1, column 16: expected ',' or ']', found the end of the text"],
      ['{} {}', "line 1, column 4: unexpected '{' after the end of the JSON value"],
      ['', 'line 1, column 1: expected a value, found the end of the text'],
    ];
    for (const [text, where] of cases) {
      const errors = problemsOf(() => parseJobConfig(text, 'json'));
      assert.deepEqual(errors, [{ path: '', message: `job config is not valid JSON: ${where}` }], text);
    }
  });

  test('YAML aliases that point nowhere', () => {
    const errors = problemsOf(() => parseJobConfig('id: x\nsteps: *nothing\n', 'yaml'));
    assert.match(errors[0]?.message ?? '', /^job config is not valid YAML: /);
  });

  test('a document that is not a mapping', () => {
    for (const text of ['- a\n- b\n', '']) {
      assert.deepEqual(
        problemsOf(() => parseJobConfig(text, 'yaml')).map((e) => e.path),
        [''],
      );
    }
  });
});

type Config = {
  id?: unknown;
  secrets?: string[];
  steps: Record<string, unknown>[];
  [key: string]: unknown;
};

function base(): Config {
  return {
    id: 'app',
    secrets: ['TOKEN'],
    steps: [
      { name: 'checkout', type: 'git-checkout', params: { repository: 'https://example.org/app.git' } },
      { name: 'build', type: 'execute-shell', params: { script: 'make' } },
      { name: 'test', type: 'execute-shell', params: { script: 'make test' } },
    ],
  };
}

function step(config: Config, index: number): Record<string, unknown> {
  const s = config.steps[index];
  assert.ok(s);
  return s;
}

function params(config: Config, index: number): Record<string, unknown> {
  return step(config, index).params as Record<string, unknown>;
}

/** [behaviour, change to a valid config, expected problems as [path, message or fragment]]. */
const BAD_CONFIGS: [string, (c: Config) => void, [string, string | RegExp][]][] = [
  ['a required param is missing', (c) => delete params(c, 2).script, [['steps[2].params.script', 'required']]],
  [
    'a need names no step',
    (c) => (step(c, 1).needs = ['biuld']),
    [['steps[1].needs[0]', "unknown step 'biuld' (steps are: checkout, build, test)"]],
  ],
  [
    'a cron field is out of range',
    (c) => (c.triggers = { cron: '61 * * * *' }),
    [['triggers.cron', "invalid cron expression '61 * * * *': minute must be 0-59"]],
  ],
  ['an unknown top-level field', (c) => (c.step = []), [['step', /^unknown field/]]],
  ['a misspelled step field', (c) => (step(c, 1).need = ['checkout']), [['steps[1].need', "unknown field (did you mean 'needs'?)"]]],
  ['an unknown param', (c) => (params(c, 1).cwd = 'x'), [['steps[1].params.cwd', /allowed: script, workdir, shell/]]],
  ['an unknown step type', (c) => (step(c, 0).type = 'git'), [['steps[0].type', /must be one of git-checkout/]]],
  ['an absolute workdir', (c) => (params(c, 1).workdir = '/tmp'), [['steps[1].params.workdir', /is absolute/]]],
  [
    'a glob climbing out of the workspace',
    (c) => c.steps.push({ type: 'publish-artifacts', params: { paths: ['ok/*', 'a/../../etc/*'] } }),
    [['steps[3].params.paths[1]', /contains '\.\.'/]],
  ],
  [
    'a step secret the job does not list',
    (c) => (step(c, 1).secrets = ['TOKEN', 'OTHER']),
    [['steps[1].secrets[1]', "secret 'OTHER' is not listed in the job's secrets; add it there"]],
  ],
  [
    'credentials from a secret the step may not read',
    (c) => {
      params(c, 0).credentialsSecret = 'TOKEN';
      step(c, 0).secrets = [];
    },
    [['steps[0].params.credentialsSecret', /secret 'TOKEN' is not among the step's secrets/]],
  ],
  [
    'two steps with one name',
    (c) => (step(c, 2).name = 'checkout'),
    [['steps[2].name', "duplicate step name 'checkout' (also used by steps[0])"]],
  ],
  ['an id with a slash', (c) => (c.id = 'a/b'), [['id', /^must be 1-100 characters/]]],
  ['a timeout given as text', (c) => (c.timeoutSeconds = '1h'), [['timeoutSeconds', /whole number of seconds/]]],
  [
    'a step timeout longer than the build',
    (c) => {
      c.timeoutSeconds = 600;
      step(c, 1).timeoutSeconds = 601;
    },
    [['steps[1].timeoutSeconds', "601 exceeds the job's timeoutSeconds (600)"]],
  ],
  ['retries out of range', (c) => (step(c, 0).retries = 11), [['steps[0].retries', 'must be an integer from 0 to 10']]],
  [
    'a matrix version YAML would read as a number',
    (c) => (step(c, 1).matrix = { python: [3.1, '3.12'] }),
    [['steps[1].matrix.python[0]', /quote versions/]],
  ],
  [
    'a matrix expanding past the limit',
    (c) => (step(c, 1).matrix = { a: range(16), b: range(17) }),
    [['steps', /expands to 274 steps; at most 256/]],
  ],
  [
    'a cycle of needs',
    (c) => (step(c, 0).needs = ['test']),
    [['steps', 'cycle checkout → test → build → checkout']],
  ],
  ['a step that needs itself', (c) => (step(c, 1).needs = ['build']), [['steps[1].needs[0]', 'a step cannot need itself']]],
  [
    'a downstream job that is this job',
    (c) => (c.downstream = ['other', 'app']),
    [['downstream[1]', /cannot trigger itself/]],
  ],
  [
    'a misspelled downstream field',
    (c) => (c.downstream = [{ job: 'deploy', paramters: {} }]),
    [['downstream[0].paramters', "unknown field (did you mean 'parameters'?)"]],
  ],
  ['an env name with a dash', (c) => (c.env = { 'BAD-NAME': 'x' }), [['env.BAD-NAME', /is not a variable name/]]],
  ['an env name with a space', (c) => (c.env = { 'BAD NAME': 'x' }), [['env["BAD NAME"]', /is not a variable name/]]],
  [
    'a copy from build 0',
    (c) => c.steps.push({ type: 'copy-artifacts', params: { job: 'lib', build: 0 } }),
    [['steps[3].params.build', "must be a build number >= 1 or 'lastSuccessful'"]],
  ],
  ['no steps', (c) => (c.steps = []), [['steps', 'must be a non-empty list of steps']]],
  ['a repository that git would read as an option', (c) => (params(c, 0).repository = '--upload-pack=x'), [['steps[0].params.repository', "must not start with '-'"]]],
  ['a webhook without its secret', (c) => (c.triggers = { webhook: { branches: ['main'] } }), [['triggers.webhook.secretEnv', 'required']]],
  [
    'a step env variable the matrix also sets',
    (c) => Object.assign(step(c, 1), { matrix: { node: ['20'] }, env: { MATRIX_NODE: '18' } }),
    [['steps[1].env.MATRIX_NODE', "is set by matrix axis 'node'; rename the variable"]],
  ],
  [
    'a timeout given both on the step and in its params',
    (c) => {
      step(c, 1).timeoutSeconds = 60;
      params(c, 1).timeoutSeconds = 60;
    },
    [['steps[1].params.timeoutSeconds', 'also given as the step timeoutSeconds; keep one']],
  ],
  ['a cron expression with four fields', (c) => (c.triggers = { cron: '0 3 * *' }), [['triggers.cron', /expected 5 fields/]]],
];

function range(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `v${i}`);
}

describe('job config: each problem points at its field', () => {
  for (const [behaviour, change, expected] of BAD_CONFIGS) {
    test(behaviour, () => {
      const config = base();
      json(config); // the base is valid: the change alone is the problem
      change(config);
      const errors = problemsOf(() => json(config));
      assert.deepEqual(
        errors.map((e) => e.path),
        expected.map(([path]) => path),
      );
      expected.forEach(([, message], i) => {
        if (typeof message === 'string') assert.equal(errors[i]?.message, message);
        else assert.match(errors[i]?.message ?? '', message);
      });
    });
  }

  test('every problem is listed at once', () => {
    const config = base();
    delete params(config, 2).script;
    step(config, 1).needs = ['biuld'];
    params(config, 1).workdir = '../x';
    config.triggers = { cron: '61 * * * *' };
    const errors = problemsOf(() => json(config));
    assert.deepEqual(
      errors.map((e) => e.path).sort(),
      ['steps[1].needs[0]', 'steps[1].params.workdir', 'steps[2].params.script', 'triggers.cron'],
    );
  });

  test('param problems are reported even when the job shape is also wrong', () => {
    const config = base();
    config.colour = 'red';
    delete params(config, 2).script;
    assert.deepEqual(
      problemsOf(() => json(config)).map((e) => e.path),
      ['colour', 'steps[2].params.script'],
    );
  });
});
