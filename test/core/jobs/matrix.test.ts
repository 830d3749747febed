import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValidationError } from '../../../src/core/errors.js';
import { parseJobConfig, type StepConfig } from '../../../src/core/jobs/job-config.js';
import { expandSteps, matrixEnvName } from '../../../src/core/jobs/matrix.js';

const PIPELINE = `
id: app
env: {CI: "1"}
steps:
  - name: checkout
    type: git-checkout
    params: {repository: https://example.org/app.git}
  - name: test
    type: execute-shell
    matrix: {node: [18, "20"], os: [linux, mac]}
    env: {LEVEL: full}
    params: {script: npm test}
  - name: publish
    type: publish-artifacts
    params: {paths: ["dist/*"]}
  - name: lint
    type: execute-shell
    needs: []
    matrix: {node-version: ["20"]}
    params: {script: npm run lint}
`;

describe('matrix expansion', () => {
  const planned = expandSteps(parseJobConfig(PIPELINE, 'yaml'));
  const byName = new Map(planned.map((s) => [s.name, s]));

  test('a matrix step becomes one step per combination, axes in declaration order', () => {
    assert.deepEqual(
      planned.map((s) => s.name),
      [
        'checkout',
        'test[node=18,os=linux]',
        'test[node=18,os=mac]',
        'test[node=20,os=linux]',
        'test[node=20,os=mac]',
        'publish',
        'lint[node-version=20]',
      ],
    );
    assert.deepEqual(
      planned.map((s) => s.step),
      ['checkout', 'test', 'test', 'test', 'test', 'publish', 'lint'],
    );
  });

  test('each expansion gets its values as MATRIX_<AXIS> on top of job and step env', () => {
    assert.deepEqual(byName.get('test[node=20,os=mac]')?.env, { CI: '1', LEVEL: 'full', MATRIX_NODE: '20', MATRIX_OS: 'mac' });
    assert.deepEqual(byName.get('test[node=20,os=mac]')?.matrixValues, { node: '20', os: 'mac' });
    assert.deepEqual(byName.get('lint[node-version=20]')?.env, { CI: '1', MATRIX_NODE_VERSION: '20' });
    assert.deepEqual(byName.get('checkout')?.env, { CI: '1' });
    assert.deepEqual(byName.get('checkout')?.matrixValues, {});
    assert.equal(matrixEnvName('python.version'), 'MATRIX_PYTHON_VERSION');
  });

  test("a matrix step's own needs apply to every expansion (fan-out)", () => {
    for (const s of planned.filter((p) => p.step === 'test')) assert.deepEqual(s.needs, ['checkout']);
    assert.deepEqual(byName.get('lint[node-version=20]')?.needs, []);
  });

  test('a step needing a matrix step waits for all of its expansions (fan-in)', () => {
    assert.deepEqual(byName.get('publish')?.needs, [
      'test[node=18,os=linux]',
      'test[node=18,os=mac]',
      'test[node=20,os=linux]',
      'test[node=20,os=mac]',
    ]);
  });

  test('everything else is carried over from the declared step', () => {
    const expansion = byName.get('test[node=18,os=linux]');
    assert.equal(expansion?.type, 'execute-shell');
    assert.deepEqual(expansion?.params, { script: 'npm test', workdir: '.', shell: 'bash' });
    assert.equal(expansion?.maxAttempts, 3);
  });

  test('more than 256 expanded steps are refused', () => {
    const step = (name: string, values: number): StepConfig => ({
      name,
      type: 'execute-shell',
      params: { script: 'true', workdir: '.', shell: 'bash' },
      needs: [],
      labels: [],
      env: {},
      secrets: [],
      timeoutSeconds: 60,
      retries: 0,
      maxAttempts: 1,
      matrix: { n: Array.from({ length: values }, (_, i) => String(i)) },
    });
    assert.equal(expandSteps({ steps: [step('a', 128), step('b', 128)] }).length, 256);
    assert.throws(
      () => expandSteps({ steps: [step('a', 128), step('b', 129)] }),
      (error: unknown) =>
        error instanceof ValidationError &&
        error.message.startsWith('steps: the matrix expands to 257 steps; at most 256 are allowed per job') &&
        (error.details.errors as { path: string }[])[0]?.path === 'steps',
    );
  });
});
