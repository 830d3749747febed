import { createHash } from 'node:crypto';
import type { Coordinator, Fence } from '../../coordination/contract.js';
import { initialSteps, withLiveSteps } from '../../core/builds/advance.js';
import { buildCounter, buildKey, FINAL_STEP_STATUSES, isFinal, type BuildRecord, type BuildTrigger, type Revision } from '../../core/builds/build.js';
import type { Ticket } from '../../core/ticket.js';
import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.js';
import { expandSteps } from '../../core/jobs/matrix.js';
import type { JobConfig } from '../../core/jobs/types.js';
import { buildControlTicket } from '../../core/builds/tickets.js';
import type { JobService } from './jobs.js';

export interface TriggerRequest {
  trigger: BuildTrigger;
  revision?: Revision;
  parameters?: Record<string, string>;
  /** A retry with the same key returns the build the first request made. */
  idempotencyKey?: string;
}

export interface VersionedBuild {
  build: BuildRecord;
  version: number;
}

export class BuildService {
  constructor(
    private readonly coordinator: Coordinator,
    private readonly jobs: JobService,
    /** Told once per build that this frontend saw reach a final status. */
    private readonly onFinished: (status: BuildRecord['status']) => void = () => undefined,
  ) {}

  /**
   * Numbers the build, records it and posts its first build-control ticket, all in one
   * atomic coordinator step: no gap, no duplicate, no build without a ticket.
   */
  async trigger(job: string, request: TriggerRequest): Promise<{ build: BuildRecord; created: boolean }> {
    const record = await this.jobs.get(job);
    const parameters = resolveParameters(record.config, request.parameters ?? {});
    const plan = expandSteps(record.config);
    const now = Date.now();
    try {
      const made = await this.coordinator.createNumbered<BuildRecord>(
        buildCounter(job),
        `builds/${job}/`,
        (number) => ({
          job,
          number,
          status: 'queued',
          configVersion: record.version,
          trigger: request.trigger,
          parameters,
          ...(request.revision ? { revision: request.revision } : {}),
          createdAt: now,
          startedAt: null,
          finishedAt: null,
          deadline: now + record.config.timeoutSeconds * 1000,
          cancelRequested: false,
          plan,
          steps: initialSteps(plan),
          concurrency: record.config.concurrency ?? null,
          downstreamJobs: record.config.downstream,
          downstream: [],
          ...(record.config.status && request.revision ? { commitStatus: record.config.status } : {}),
        }),
        {
          ticket: (number) => buildControlTicket(job, number, 'start'),
          ...(request.idempotencyKey ? { uniqueKey: `build-keys/${job}/${digest(request.idempotencyKey)}` } : {}),
        },
      );
      return { build: made.value, created: true };
    } catch (err) {
      // The same idempotency key made a build before: that build is the answer.
      const number = err instanceof ConflictError ? err.details.number : undefined;
      if (typeof number === 'number') return { build: (await this.get(job, number)).build, created: false };
      throw err;
    }
  }

  async get(job: string, number: number | 'lastSuccessful'): Promise<VersionedBuild> {
    if (number === 'lastSuccessful') return this.lastSuccessful(job);
    const record = await this.coordinator.getRecord<BuildRecord>(buildKey(job, number));
    if (!record) throw new NotFoundError('build', `${job}#${number}`);
    return { build: record.value, version: record.version };
  }

  /** The build with its running steps brought up to date from their tickets (read only). */
  async live(job: string, number: number | 'lastSuccessful'): Promise<VersionedBuild> {
    const { build, version } = await this.get(job, number);
    if (isFinal(build.status)) return { build, version };
    const tickets = new Map<string, Ticket>();
    await Promise.all(
      build.steps
        .filter((s) => s.ticketId !== null && !FINAL_STEP_STATUSES.has(s.status))
        .map(async (s) => tickets.set(s.ticketId!, await this.coordinator.get(s.ticketId!))),
    );
    return { build: withLiveSteps(build, tickets, Date.now()), version };
  }

  /** Newest first. `before` is the number to continue below. */
  async list(job: string, page: { before?: number; limit?: number }): Promise<{ builds: BuildRecord[]; next: number | null }> {
    const limit = page.limit ?? 50;
    const result = await this.coordinator.listRecords<BuildRecord>(`builds/${job}/`, {
      reverse: true,
      limit,
      ...(page.before ? { after: buildKey(job, page.before) } : {}),
    });
    const builds = result.records.map((r) => r.value);
    return { builds, next: result.next ? (builds.at(-1)?.number ?? null) : null };
  }

  /** Flags the build and wakes a build-control worker, which stops its steps. */
  async cancel(job: string, number: number): Promise<BuildRecord> {
    for (;;) {
      const { build, version } = await this.get(job, number);
      if (isFinal(build.status) || build.cancelRequested) return build;
      try {
        await this.coordinator.putRecord(buildKey(job, number), { ...build, cancelRequested: true }, version);
      } catch (err) {
        if (err instanceof ConflictError) continue;
        throw err;
      }
      await this.coordinator.post(buildControlTicket(job, number, 'cancel'));
      return { ...build, cancelRequested: true };
    }
  }

  /** The build-control worker's write: compare-and-set, fenced by its lease. */
  async writeState(job: string, number: number, expectedVersion: number, build: BuildRecord, fence: Fence): Promise<number> {
    if (build.job !== job || build.number !== number) {
      throw new ValidationError(`the state written for ${job}#${number} is of ${build.job}#${build.number}`);
    }
    const current = await this.get(job, number);
    // Cancellation is the one field others may set; a stale copy must not clear it.
    const next = { ...build, cancelRequested: build.cancelRequested || current.build.cancelRequested };
    const version = (await this.coordinator.putRecord(buildKey(job, number), next, expectedVersion, fence)).version;
    if (isFinal(next.status) && !isFinal(current.build.status)) this.onFinished(next.status);
    return version;
  }

  private async lastSuccessful(job: string): Promise<VersionedBuild> {
    let before: number | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const page = await this.list(job, { limit: 100, ...(before ? { before } : {}) });
      const found = page.builds.find((b) => b.status === 'success');
      if (found) return this.get(job, found.number);
      if (page.next === null) break;
      before = page.next;
    }
    throw new NotFoundError('successful build of job', job);
  }
}

function resolveParameters(config: JobConfig, given: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  const unknown = Object.keys(given).filter((k) => !(k in config.parameters));
  if (unknown.length > 0) {
    const known = Object.keys(config.parameters);
    throw new ValidationError(`parameters.${unknown[0]}: not a parameter of this job (${known.length ? `it has: ${known.join(', ')}` : 'it has none'})`);
  }
  for (const [name, spec] of Object.entries(config.parameters)) {
    const value = given[name] ?? spec.default;
    if (value === undefined) throw new ValidationError(`parameters.${name}: required (${spec.description || 'no default'})`);
    out[name] = value;
  }
  return out;
}

const digest = (key: string): string => createHash('sha256').update(key).digest('hex').slice(0, 32);
