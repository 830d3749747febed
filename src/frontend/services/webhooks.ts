import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Coordinator } from '../../coordination/contract.js';
import { DistciError, NotFoundError, ValidationError } from '../../core/errors.js';
import type { JobConfig } from '../../core/jobs/types.js';
import type { ForgeEvent } from '../../core/webhooks/forge-events.js';
import { normalizeRepository } from '../../core/webhooks/repository.js';
import type { BuildService } from './builds.js';
import type { JobService } from './jobs.js';

/** `webhook-repos/<digest of the repository>/<job>`: which jobs a push to a repository concerns. */
export const repoIndexPrefix = (repository: string): string =>
  `webhook-repos/${createHash('sha256').update(normalizeRepository(repository)).digest('hex').slice(0, 40)}/`;

/** The repositories a job checks out, when it accepts webhooks. */
export function webhookRepositories(config: JobConfig | null): string[] {
  if (!config?.triggers.webhook) return [];
  const repos = config.steps.flatMap((s) => (s.type === 'git-checkout' ? [s.params.repository] : []));
  return [...new Set(repos.map(normalizeRepository))];
}

export interface Delivery {
  forge: 'github' | 'gitlab' | 'generic';
  /** The forge's delivery id: a redelivery carries the same one and builds nothing new. */
  id: string;
  event: ForgeEvent;
  /** Does the request carry a valid signature made with this job's secret? */
  verify(secret: string): boolean;
}

export interface WebhookOutcome {
  triggered: string[];
  /** Jobs of this repository the event did not concern (branch filter). */
  skipped: string[];
}

/**
 * Turns a forge event into builds of the jobs that check out its repository, accept
 * webhooks, match its branch — and whose secret signed the request. Nothing is triggered
 * unless at least one job's secret verifies the signature (otherwise 401).
 */
export class WebhookService {
  constructor(
    private readonly coordinator: Coordinator,
    private readonly jobs: JobService,
    private readonly builds: BuildService,
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: Logger,
  ) {}

  async deliver(delivery: Delivery): Promise<WebhookOutcome> {
    const candidates = await this.candidates(delivery.event.repositories);
    const verified: { job: string; config: JobConfig }[] = [];
    for (const name of candidates) {
      const job = await this.jobs.get(name).catch((err: unknown) => {
        if (err instanceof NotFoundError) return null;
        throw err;
      });
      const hook = job?.config.triggers.webhook;
      if (!job || !hook) continue;
      const secret = this.env[hook.secretEnv];
      if (!secret) {
        this.log.warn({ job: name, secretEnv: hook.secretEnv }, 'webhook secret variable is not set on this frontend; the job cannot be triggered by webhooks');
        continue;
      }
      if (delivery.verify(secret)) verified.push({ job: name, config: job.config });
    }
    if (verified.length === 0) {
      throw new DistciError('unauthorized', 'the webhook signature does not match the secret of any job that builds this repository; check the secret configured at the forge');
    }
    const outcome: WebhookOutcome = { triggered: [], skipped: [] };
    const { event } = delivery;
    const repository = event.repositories[0] ?? '';
    for (const { job, config } of verified) {
      const branches = config.triggers.webhook?.branches ?? [];
      if (branches.length > 0 && !branches.includes(event.branch)) {
        outcome.skipped.push(job);
        continue;
      }
      const { build } = await this.builds.trigger(job, {
        trigger: { kind: 'webhook', by: `${delivery.forge}:${event.kind}${event.pr !== undefined ? ` #${event.pr}` : ''} ${event.branch}@${event.commit.slice(0, 12)}` },
        revision: { repository, branch: event.branch, commit: event.commit, ...(event.pr !== undefined ? { pr: event.pr } : {}) },
        idempotencyKey: `webhook/${delivery.forge}/${delivery.id}`,
      });
      outcome.triggered.push(`${job}#${build.number}`);
    }
    return outcome;
  }

  private async candidates(repositories: string[]): Promise<string[]> {
    if (repositories.length === 0) throw new ValidationError('the webhook payload names no repository');
    const jobs = new Set<string>();
    for (const repo of new Set(repositories.map(normalizeRepository))) {
      const prefix = repoIndexPrefix(repo);
      for (let after: string | undefined; ; ) {
        const page = await this.coordinator.listRecords<{ job: string }>(prefix, { limit: 500, ...(after ? { after } : {}) });
        for (const r of page.records) jobs.add(r.value.job);
        if (!page.next) break;
        after = page.next;
      }
    }
    return [...jobs].sort();
  }
}
