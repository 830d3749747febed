import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiClient, ApiError } from '../../src/client/api-client.js';
import { BuildsApi } from '../../src/client/builds-api.js';
import { StepApi } from '../../src/client/step-api.js';
import { TicketsApi } from '../../src/client/tickets-api.js';
import { stepTicket } from '../../src/core/builds/tickets.js';
import type { NewTicket } from '../../src/core/ticket.js';
import { startTestFrontend, type TestFrontend } from '../support/embedded.js';

const JOB = `
id: deploy
secrets: [DEPLOY_TOKEN]
steps:
  - {name: ship, type: execute-shell, params: {script: "true"}}
`;

describe('a step gets only the secrets its job gives it', () => {
  let fe: TestFrontend;
  let client: ApiClient;
  let tickets: TicketsApi;
  let steps: StepApi;
  let builds: BuildsApi;
  before(async () => {
    fe = await startTestFrontend({ secrets: { DEPLOY_TOKEN: 'the-deploy-token', OTHER_TEAM_KEY: 'not-yours' } });
    client = new ApiClient({ servers: [fe.url] });
    tickets = new TicketsApi(client);
    steps = new StepApi(client);
    builds = new BuildsApi(client);
    await builds.applyJob('deploy', JOB, 'yaml');
  });
  after(async () => {
    await client.close();
    await fe.close();
  });

  async function claimAndRead(ticket: NewTicket): Promise<Record<string, string>> {
    await tickets.post(ticket);
    const grant = await tickets.claim({ workerId: 'w', kinds: [ticket.kind], labels: [], waitMs: 0, claimId: `c-${Math.random()}` });
    assert.ok(grant);
    return steps.secrets(grant.ticket.id, grant.lease.token);
  }

  it("gives the build's own step ticket the secrets its plan names", async () => {
    const { build } = await builds.trigger('deploy');
    const record = await builds.getBuild('deploy', build.number);
    const secrets = await claimAndRead(stepTicket(record, record.plan[0]!));
    assert.deepEqual(secrets, { DEPLOY_TOKEN: 'the-deploy-token' });
  });

  it('refuses a forged step ticket that names a secret the plan does not give (a leaked worker token)', async () => {
    const { build } = await builds.trigger('deploy');
    const record = await builds.getBuild('deploy', build.number);
    const real = stepTicket(record, record.plan[0]!);
    const payload = { ...(real.payload as object), secrets: ['DEPLOY_TOKEN', 'OTHER_TEAM_KEY'] };
    await assert.rejects(claimAndRead({ ...real, payload }), (err: ApiError) => err.status === 403);
    await assert.rejects(claimAndRead({ ...real, kind: 'forged', idempotencyKey: 'forged-1' }), (err: ApiError) => err.status === 403);
  });
});
