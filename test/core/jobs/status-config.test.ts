import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValidationError } from '../../../src/core/errors.js';
import { parseJobConfig } from '../../../src/core/jobs/job-config.js';
import { repositoryOf } from '../../../src/core/builds/commit-status.js';

const job = (status: string) => `
id: app
steps: [{type: execute-shell, params: {script: "true"}}]
status: ${status}
`;

function problems(status: string): { path: string; message: string }[] {
  try {
    parseJobConfig(job(status), 'yaml');
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return (err.details as { errors: { path: string; message: string }[] }).errors;
  }
  assert.fail('the config was accepted');
}

describe('job config: status', () => {
  test('fills in the API root and the context', () => {
    assert.deepEqual(parseJobConfig(job('{provider: github, tokenSecret: GH_TOKEN}'), 'yaml').status, {
      provider: 'github',
      apiUrl: 'https://api.github.com',
      tokenSecret: 'GH_TOKEN',
      context: 'distci/app',
    });
    assert.deepEqual(
      parseJobConfig(job('{provider: gitlab, apiUrl: "https://git.example.org/api/v4/", repository: group/sub/app, tokenSecret: GL, context: ci}'), 'yaml').status,
      { provider: 'gitlab', apiUrl: 'https://git.example.org/api/v4', repository: 'group/sub/app', tokenSecret: 'GL', context: 'ci' },
    );
  });

  test('does not require the token secret among the job secrets, which every step would get', () => {
    const config = parseJobConfig(job('{provider: github, tokenSecret: GH_TOKEN}'), 'yaml');
    assert.deepEqual(config.secrets, []);
    assert.deepEqual(config.steps[0]!.secrets, []);
  });

  test('points at the field of each problem', () => {
    assert.deepEqual(problems('{provider: bitbucket, tokenSecret: T}').map((p) => p.path), ['status.provider']);
    assert.deepEqual(problems('{provider: github}').map((p) => p.path), ['status.tokenSecret']);
    assert.deepEqual(problems('{provider: github, tokenSecret: "not a name"}').map((p) => p.path), ['status.tokenSecret']);
    assert.deepEqual(problems('{provider: github, tokenSecret: T, colour: red}').map((p) => p.path), ['status.colour']);
    assert.deepEqual(problems('{provider: github, tokenSecret: T, apiUrl: "ftp://x"}'), [{ path: 'status.apiUrl', message: 'must be an http(s) URL, not ftp:' }]);
    assert.match(problems('{provider: github, tokenSecret: T, apiUrl: "https://me:pw@api.github.com"}')[0]!.message, /credentials/);
    assert.deepEqual(problems('{provider: github, tokenSecret: T, repository: just-a-name}'), [
      { path: 'status.repository', message: "'just-a-name' is not owner/name, as in github.com/owner/name" },
    ]);
    assert.deepEqual(problems('{provider: gitlab, tokenSecret: T, repository: lonely}').map((p) => p.path), ['status.repository']);
  });

  test('takes the repository from the webhook event when the config names none', () => {
    const github = { provider: 'github' as const, apiUrl: 'https://api.github.com', tokenSecret: 'T', context: 'c' };
    const gitlab = { ...github, provider: 'gitlab' as const };
    const revision = (repository: string) => ({ repository, branch: 'main', commit: 'a'.repeat(40) });
    assert.equal(repositoryOf(github, revision('https://github.com/Acme/App.git')), 'acme/app');
    assert.equal(repositoryOf(github, revision('git@github.com:acme/app.git')), 'acme/app');
    assert.equal(repositoryOf(gitlab, revision('https://gitlab.example.org/group/sub/app.git')), 'group/sub/app');
    assert.equal(repositoryOf(github, revision('/srv/git/app')), null);
    assert.equal(repositoryOf({ ...github, repository: 'other/repo' }, revision('/srv/git/app')), 'other/repo');
  });
});
