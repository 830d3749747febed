import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValidationError } from '../../../src/core/errors.js';
import { blockedSteps, findCycle, planOrder, readySteps, type DagNode, type StepState } from '../../../src/core/jobs/dag.js';
import { parseJobConfig } from '../../../src/core/jobs/job-config.js';
import { expandSteps } from '../../../src/core/jobs/matrix.js';

const node = (name: string, ...needs: string[]): DagNode => ({ name, needs });
const names = (steps: readonly DagNode[]) => steps.map((s) => s.name);

/** checkout → build[a], build[b] (fan-out) → package (fan-in) → deploy; docs runs alone. */
const STEPS = expandSteps(
  parseJobConfig(
    `
id: app
steps:
  - {name: checkout, type: git-checkout, params: {repository: /srv/app}}
  - {name: build, type: execute-shell, matrix: {v: [a, b]}, params: {script: make}}
  - {name: package, type: execute-shell, params: {script: make dist}}
  - {name: deploy, type: execute-shell, params: {script: make deploy}}
  - {name: docs, type: execute-shell, needs: [], params: {script: make docs}}
`,
    'yaml',
  ),
);

describe('step order', () => {
  test('steps come after their needs and otherwise keep declaration order', () => {
    const order = planOrder([node('c', 'b'), node('a'), node('b', 'a'), node('d')]);
    assert.deepEqual(names(order), ['a', 'b', 'c', 'd']);
    assert.deepEqual(names(planOrder(STEPS)), names(STEPS));
  });

  test('a cycle is refused, named step by step', () => {
    const cases: [DagNode[], string][] = [
      [[node('a', 'b'), node('b', 'a')], 'steps: cycle a → b → a'],
      [[node('x'), node('a', 'c'), node('b', 'a'), node('c', 'b')], 'steps: cycle a → c → b → a'],
      [[node('a', 'a')], 'steps: cycle a → a'],
    ];
    for (const [steps, message] of cases) {
      assert.throws(() => planOrder(steps), (error: unknown) => error instanceof ValidationError && error.message === message);
    }
    assert.equal(findCycle([node('a'), node('b', 'a'), node('c', 'a', 'b')]), null);
  });

  test('a need on a step that does not exist is refused', () => {
    assert.throws(() => planOrder([node('a', 'ghost')]), /steps: step 'a' needs unknown step 'ghost'/);
    assert.throws(() => planOrder([node('a'), node('a')]), /steps: duplicate step name 'a'/);
  });
});

describe('step readiness', () => {
  test('at the start, the steps with no needs are ready together', () => {
    assert.deepEqual(names(readySteps(STEPS, {})), ['checkout', 'docs']);
  });

  test('a finished step fans out to every step that needs it', () => {
    const states = { checkout: 'success', docs: 'running' } as const;
    assert.deepEqual(names(readySteps(STEPS, states)), ['build[v=a]', 'build[v=b]']);
  });

  test('a fan-in step waits for every one of its needs', () => {
    const partly: Record<string, StepState> = { checkout: 'success', 'build[v=a]': 'success', 'build[v=b]': 'running' };
    assert.deepEqual(names(readySteps(STEPS, partly)), ['docs']);
    assert.deepEqual(names(readySteps(STEPS, { ...partly, 'build[v=b]': 'success', docs: 'success' })), ['package']);
  });

  test('running and finished steps are never ready again', () => {
    const states = { checkout: 'success', docs: 'success', 'build[v=a]': 'running', 'build[v=b]': 'failure' } as const;
    assert.deepEqual(names(readySteps(STEPS, states)), []);
  });
});

describe('skip propagation', () => {
  test('a failed need blocks its dependents transitively, and nothing else', () => {
    const states = { checkout: 'success', 'build[v=a]': 'success', 'build[v=b]': 'failure', docs: 'running' } as const;
    assert.deepEqual(names(blockedSteps(STEPS, states)), ['package', 'deploy']);
  });

  test('error, cancelled and skipped block like failure; success and running do not', () => {
    for (const state of ['error', 'cancelled', 'skipped'] as const) {
      assert.deepEqual(names(blockedSteps(STEPS, { checkout: state })), ['build[v=a]', 'build[v=b]', 'package', 'deploy']);
    }
    assert.deepEqual(names(blockedSteps(STEPS, { checkout: 'success', 'build[v=a]': 'running' })), []);
  });

  test('a build driven by ready/blocked runs every step it can and skips the rest', () => {
    const states: Record<string, StepState> = {};
    const outcome = (name: string): StepState => (name === 'build[v=b]' ? 'failure' : 'success');
    for (let round = 0; round < 10; round++) {
      for (const step of blockedSteps(STEPS, states)) states[step.name] = 'skipped';
      const ready = readySteps(STEPS, states);
      if (ready.length === 0) break;
      for (const step of ready) states[step.name] = outcome(step.name);
    }
    assert.deepEqual(states, {
      checkout: 'success',
      docs: 'success',
      'build[v=a]': 'success',
      'build[v=b]': 'failure',
      package: 'skipped',
      deploy: 'skipped',
    });
  });
});
