import type { Coordinator, ReadFreshness } from '../../coordination/contract.js';
import { jobKey } from '../../core/builds/build.js';
import { ConflictError, NotFoundError } from '../../core/errors.js';
import { parseJobConfig } from '../../core/jobs/job-config.js';
import type { JobRecord, JobVersion } from '../../core/jobs/records.js';
import type { JobConfig } from '../../core/jobs/types.js';
import type { Store } from '../../storage/contract.js';
import { cronKey, type CronEntry } from './cron.js';
import { repoIndexPrefix, webhookRepositories } from './webhooks.js';

export type { JobRecord, JobVersion };

const versionsPrefix = (job: string): string => `jobs/${job}/versions/`;
const versionKey = (job: string, version: number): string => `${versionsPrefix(job)}${String(version).padStart(8, '0')}.json`;

/**
 * Job configs: the current version lives in a coordinator record (compare-and-set, so a
 * concurrent update is never silently lost); every version is also kept in the store.
 */
export class JobService {
  constructor(
    private readonly coordinator: Coordinator,
    private readonly store: Store,
    /** The clock cron schedules start from; injectable for tests. */
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Validates and stores a new version. With `expectedVersion` (HTTP If-Match) the write
   * fails with a conflict unless the job is at that version (0: must not exist yet).
   */
  async apply(name: string, text: string, format: 'yaml' | 'json', expectedVersion?: number): Promise<{ job: JobRecord; created: boolean }> {
    const config = parseJobConfig(text, format, name);
    for (;;) {
      const current = await this.coordinator.getRecord<JobRecord>(jobKey(name));
      const currentVersion = current?.value.version ?? 0;
      if (expectedVersion !== undefined && expectedVersion !== currentVersion) {
        throw new ConflictError(`job '${name}' is at version ${currentVersion}, not ${expectedVersion}: someone changed it; fetch it again and reapply`, {
          job: name,
          version: currentVersion,
        });
      }
      const now = this.now();
      const base = current ? currentVersion : await this.lastStoredVersion(name);
      const job: JobRecord = { id: name, version: base + 1, config, createdAt: current?.value.createdAt ?? now, updatedAt: now };
      try {
        await this.coordinator.putRecord(jobKey(name), job, current?.version ?? 0);
      } catch (err) {
        // Someone else applied meanwhile: with If-Match that is the caller's conflict; without it, apply on top.
        if (err instanceof ConflictError && expectedVersion === undefined) continue;
        throw err;
      }
      const history: JobVersion = { id: name, version: job.version, config, source: text, format, appliedAt: now };
      await this.schedule(name, config, now);
      await this.indexRepositories(name, current?.value.config ?? null, config);
      await this.store.put(versionKey(name, job.version), JSON.stringify(history), { ifNoneMatch: true, contentType: 'application/json' }).catch((err) => {
        // A rerun after a crash between the two writes finds it written: fine.
        if (!(err instanceof ConflictError)) throw err;
      });
      return { job, created: current === null };
    }
  }

  /**
   * The highest version the store keeps of a job that has no record (never made, or
   * deleted): a job made again numbers on from there, since stored versions are
   * create-only — starting again at 1 left `?version=1` showing the deleted job's config.
   */
  private async lastStoredVersion(name: string): Promise<number> {
    // Keys list in key order, and version numbers are zero-padded: the last key is the highest.
    let last: string | undefined;
    let after: string | undefined;
    do {
      const page = await this.store.list(versionsPrefix(name), after ? { after } : {});
      last = page.keys.at(-1)?.key ?? last;
      after = page.next ?? undefined;
    } while (after);
    return last ? Number(last.slice(versionsPrefix(name).length, -'.json'.length)) : 0;
  }

  async get(name: string): Promise<JobRecord> {
    const record = await this.coordinator.getRecord<JobRecord>(jobKey(name));
    if (!record) throw new NotFoundError('job', name);
    return record.value;
  }

  async version(name: string, version: number): Promise<JobVersion> {
    try {
      return JSON.parse((await this.store.getBuffer(versionKey(name, version))).toString('utf8')) as JobVersion;
    } catch (err) {
      if (err instanceof NotFoundError) throw new NotFoundError('job version', `${name}@${version}`);
      throw err;
    }
  }

  async list(page: { after?: string; limit?: number; q?: string } & ReadFreshness): Promise<{ jobs: JobRecord[]; next: string | null }> {
    const limit = page.limit ?? 100;
    const fresh: ReadFreshness = page.since === undefined ? {} : { since: page.since };
    const jobs: JobRecord[] = [];
    let after = page.after ? jobKey(page.after) : undefined;
    // Search filters pages of records until the page is full or the jobs run out.
    for (;;) {
      const batch = await this.coordinator.listRecords<JobRecord>('jobs/', { ...(after ? { after } : {}), limit: page.q ? 1000 : limit, ...fresh });
      for (const r of batch.records) {
        if (!page.q || matches(r.value, page.q)) jobs.push(r.value);
        if (jobs.length === limit) return { jobs, next: r.value.id };
      }
      if (!batch.next) return { jobs, next: null };
      after = batch.next;
    }
  }

  async delete(name: string): Promise<void> {
    const record = await this.coordinator.getRecord<JobRecord>(jobKey(name));
    if (!record) throw new NotFoundError('job', name);
    await this.coordinator.deleteRecord(jobKey(name), record.version);
    await this.schedule(name, null, this.now());
    await this.indexRepositories(name, record.value.config, null);
  }

  /** Keeps `webhook-repos/*` in step with the repositories a webhook-triggered job checks out. */
  private async indexRepositories(name: string, before: JobConfig | null, after: JobConfig | null): Promise<void> {
    const old = new Set(webhookRepositories(before));
    const now = new Set(webhookRepositories(after));
    for (const repo of old) {
      if (now.has(repo)) continue;
      const key = `${repoIndexPrefix(repo)}${name}`;
      const record = await this.coordinator.getRecord(key);
      if (record) await this.coordinator.deleteRecord(key, record.version).catch(ignoreConflict);
    }
    for (const repo of now) {
      if (!(await this.coordinator.getRecord(`${repoIndexPrefix(repo)}${name}`))) {
        await this.coordinator.putRecord(`${repoIndexPrefix(repo)}${name}`, { job: name, repository: repo }, 0).catch(ignoreConflict);
      }
    }
  }

  /** Keeps `cron/<job>` in step with the job's cron trigger; an unchanged schedule keeps its last tick. */
  private async schedule(name: string, config: JobConfig | null, now: number): Promise<void> {
    const cron = config?.triggers.cron;
    for (;;) {
      const current = await this.coordinator.getRecord<CronEntry>(cronKey(name));
      try {
        if (!cron) {
          if (current) await this.coordinator.deleteRecord(cronKey(name), current.version);
        } else if (current?.value.cron !== cron) {
          await this.coordinator.putRecord<CronEntry>(cronKey(name), { job: name, cron, lastTick: now }, current?.version ?? 0);
        }
        return;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    }
  }
}

function matches(job: JobRecord, q: string): boolean {
  const needle = q.toLowerCase();
  return job.id.toLowerCase().includes(needle) || job.config.description.toLowerCase().includes(needle);
}

function ignoreConflict(err: unknown): void {
  if (!(err instanceof ConflictError)) throw err;
}
