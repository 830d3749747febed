import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Coordinator, Fence, ReadFreshness, RecordPage } from '../../coordination/contract.js';
import { initialSteps, withLiveSteps } from '../../core/builds/advance.js';
import { buildCounter, buildKey, FINAL_STEP_STATUSES, isFinal, type BuildRecord, type BuildTrigger, type Revision } from '../../core/builds/build.js';
import type { Ticket } from '../../core/ticket.js';
import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.js';
import { expandSteps } from '../../core/jobs/matrix.js';
import type { JobConfig } from '../../core/jobs/types.js';
import { buildControlTicket } from '../../core/builds/tickets.js';
import type { Store } from '../../storage/contract.js';
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
  /** The build is finished and its record lives in the store, not in the coordinator. */
  archived: boolean;
}

/** Where a finished build's record lives once it has left the coordinator. */
export const archiveKey = (job: string, number: number): string => `builds/${job}/${number}/build.json`;

/** Characters of archived build records a frontend keeps (~2–5 KiB each: thousands of builds). */
const ARCHIVE_CACHE_BYTES = 16 * 2 ** 20;

/** How many archived records a list page reads from the store at once. */
const ARCHIVE_READS_IN_FLIGHT = 16;

/**
 * Builds: numbered and recorded in the coordinator while they run; archived to the store
 * when they finish, so the coordinator holds only unfinished builds and its size and the
 * cost of every build stay flat however many builds have ever run. A record is written to
 * the store before it leaves the coordinator, so a reader finds it in one place or the
 * other at every instant (coordinator first).
 */
export class BuildService {
  /**
   * Archived records as the store holds them, most recently read first. An archived
   * record never changes: it is read from the store only once the coordinator no longer
   * holds the build, and by then its last write is the one in the store; build numbers
   * are never handed out twice, also not after a job is deleted and made again. So a
   * frontend keeps the text and never asks again — a jobs page shows 50 jobs' last
   * builds, mostly archived, and each was a store read (on `file:` a turn of libuv's
   * thread pool, which the store's fsyncs also use; on S3 a GET). Kept as text, so no
   * caller shares a parsed object.
   */
  private readonly archived = new LRUCache<string, string>({ maxSize: ARCHIVE_CACHE_BYTES, sizeCalculation: (text) => text.length });

  constructor(
    private readonly coordinator: Coordinator,
    private readonly jobs: JobService,
    private readonly store: Store,
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

  /** `fresh`: see `ReadFreshness` (a request's reads pass its arrival). */
  async get(job: string, number: number | 'lastSuccessful', fresh: ReadFreshness = {}): Promise<VersionedBuild> {
    if (number === 'lastSuccessful') return this.lastSuccessful(job, fresh);
    const found = (await this.fromCoordinator(job, number, fresh)) ?? (await this.fromArchive(job, number));
    if (!found) throw new NotFoundError('build', `${job}#${number}`);
    return found;
  }

  private async fromCoordinator(job: string, number: number, fresh: ReadFreshness = {}): Promise<VersionedBuild | null> {
    const record = await this.coordinator.getRecord<BuildRecord>(buildKey(job, number), fresh);
    return record ? { build: record.value, version: record.version, archived: false } : null;
  }

  private async fromArchive(job: string, number: number): Promise<VersionedBuild | null> {
    const key = archiveKey(job, number);
    try {
      let text = this.archived.get(key);
      if (text === undefined) {
        text = (await this.store.getBuffer(key)).toString('utf8');
        this.archived.set(key, text);
      }
      const { build, version } = JSON.parse(text) as { build: BuildRecord; version: number };
      return { build, version, archived: true };
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      throw err;
    }
  }

  /**
   * Moves a finished build's record to the store: written there first, then removed from
   * the coordinator by compare-and-set. Idempotent: an archived build is left as it is.
   */
  async archive(job: string, number: number): Promise<VersionedBuild> {
    for (;;) {
      const current = await this.get(job, number);
      if (current.archived) return current;
      if (!isFinal(current.build.status)) {
        throw new ConflictError(`build ${job}#${number} is ${current.build.status}: only a finished build is archived`);
      }
      await this.store.put(archiveKey(job, number), JSON.stringify({ version: current.version, build: current.build }), { contentType: 'application/json' });
      try {
        await this.coordinator.deleteRecord(buildKey(job, number), current.version);
        return { ...current, archived: true };
      } catch (err) {
        if (!(err instanceof ConflictError || err instanceof NotFoundError)) throw err;
      }
    }
  }

  /** The build with its running steps brought up to date from their tickets (read only). */
  async live(job: string, number: number | 'lastSuccessful', fresh: ReadFreshness = {}): Promise<VersionedBuild> {
    const found = await this.get(job, number, fresh);
    const { build, version } = found;
    if (isFinal(build.status)) return found;
    const tickets = new Map<string, Ticket>();
    await Promise.all(
      build.steps
        .filter((s) => s.ticketId !== null && !FINAL_STEP_STATUSES.has(s.status))
        .map(async (s) => tickets.set(s.ticketId!, await this.coordinator.get(s.ticketId!, fresh))),
    );
    return { build: withLiveSteps(build, tickets, Date.now()), version, archived: false };
  }

  /**
   * Newest first. `before` is the number to continue below. Numbers have no gaps, so a page
   * is a known range: its unfinished builds come from one coordinator listing, the others
   * from the archive — never a scan over all of the job's builds.
   */
  async list(job: string, page: { before?: number; limit?: number } & ReadFreshness): Promise<{ builds: BuildRecord[]; next: number | null }> {
    const limit = page.limit ?? 50;
    const fresh: ReadFreshness = page.since === undefined ? {} : { since: page.since };
    if (page.before === undefined) {
      // The first page: the counter and the newest records in one round of reads, as `last`
      // does (the listing is read after the counter). A build created in between has a
      // number above the counter's and may have pushed one of the page out: then as below.
      const [newest, active] = await Promise.all([
        this.coordinator.currentNumber(buildCounter(job), fresh),
        this.coordinator.listRecords<BuildRecord>(`builds/${job}/`, { reverse: true, limit, ...fresh }),
      ]);
      if (!active.records.some((r) => r.value.number > newest)) return this.page(job, newest, limit, active);
    }
    // A `before` above the newest build starts at the newest: numbers beyond it have no record.
    const newest = await this.coordinator.currentNumber(buildCounter(job), fresh);
    const top = page.before ? Math.min(page.before - 1, newest) : newest;
    if (top < 1) return { builds: [], next: null };
    const active = await this.coordinator.listRecords<BuildRecord>(`builds/${job}/`, { reverse: true, limit, after: buildKey(job, top + 1), ...fresh });
    return this.page(job, top, limit, active);
  }

  /** Builds `top` down to `limit` below it: those in `active` (read after `top` was), the others from the archive. */
  private async page(job: string, top: number, limit: number, active: RecordPage<BuildRecord>): Promise<{ builds: BuildRecord[]; next: number | null }> {
    if (top < 1) return { builds: [], next: null };
    const bottom = Math.max(1, top - limit + 1);
    const live = new Map(active.records.map((r) => [r.value.number, r.value]));
    const numbers = Array.from({ length: top - bottom + 1 }, (_, i) => top - i);
    const builds: (BuildRecord | undefined)[] = numbers.map((n) => live.get(n));
    for (let i = 0; i < numbers.length; i += ARCHIVE_READS_IN_FLIGHT) {
      await Promise.all(
        numbers.slice(i, i + ARCHIVE_READS_IN_FLIGHT).map(async (n, j) => {
          // Numbers up to `top` existed before the listing was read, so a number missing from
          // it was archived by then, and the store had its record before that.
          builds[i + j] ??= (await this.fromArchive(job, n))?.build;
        }),
      );
    }
    return { builds: builds.filter((b): b is BuildRecord => b !== undefined), next: bottom > 1 ? bottom : null };
  }

  /**
   * The job's newest build (null before its first), as `list(job, { limit: 1 })` finds it,
   * in one round of reads instead of two: the counter and the newest record the coordinator
   * holds are read together (on ZooKeeper, behind one barrier: the jobs page asks this of 50
   * jobs at once). The listing is read after the counter, so when its newest record is not
   * the counter's number, that build was archived by then.
   */
  async last(job: string, fresh: ReadFreshness = {}): Promise<BuildRecord | null> {
    const [newest, live] = await Promise.all([
      this.coordinator.currentNumber(buildCounter(job), fresh),
      this.coordinator.listRecords<BuildRecord>(`builds/${job}/`, { reverse: true, limit: 1, ...fresh }),
    ]);
    const top = live.records[0]?.value;
    if (top && top.number >= newest) return top;
    return newest < 1 ? null : ((await this.fromArchive(job, newest))?.build ?? null);
  }

  /**
   * The job's builds not finished yet, newest first. The coordinator holds exactly the
   * builds not archived yet, so this is one listing — no store reads, whatever the history
   * (build-control asks it whenever a job with a concurrency limit queues or ends a build).
   */
  async unfinished(job: string): Promise<BuildRecord[]> {
    const builds: BuildRecord[] = [];
    let after: string | undefined;
    do {
      const page = await this.coordinator.listRecords<BuildRecord>(`builds/${job}/`, { reverse: true, limit: 1000, ...(after ? { after } : {}) });
      for (const { value } of page.records) if (!isFinal(value.status)) builds.push(value);
      after = page.next ?? undefined;
    } while (after !== undefined);
    return builds;
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
    if (isFinal(next.status) && !isFinal(current.build.status)) {
      this.onFinished(next.status);
      // If this frontend dies here, the build-control worker archives the build on its retry.
      await this.archive(job, number);
    }
    return version;
  }

  private async lastSuccessful(job: string, fresh: ReadFreshness): Promise<VersionedBuild> {
    let before: number | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const page = await this.list(job, { limit: 100, ...(before ? { before } : {}), ...fresh });
      const found = page.builds.find((b) => b.status === 'success');
      if (found) return this.get(job, found.number, fresh);
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
