import type { BuildRecord } from '../core/builds/build.js';
import type { ApiClient, CallOptions } from './api-client.js';

/** A build as shown: `archived` once finished and moved to the store. */
export type VersionedBuildRecord = BuildRecord & { version: number; archived: boolean };

export interface JobSummary {
  id: string;
  version: number;
  description: string;
  steps: number;
  updatedAt: number;
  lastBuild: { number: number; status: BuildRecord['status']; createdAt: number; finishedAt: number | null } | null;
}

export type BuildCause = { kind: 'api' | 'cli' | 'ui' } | { kind: 'upstream'; job: string; number: number };

const enc = (s: string): string => encodeURIComponent(s);

/** Jobs and builds, typed: used by the CLI and the build-control worker. */
export class BuildsApi {
  constructor(readonly client: ApiClient) {}

  async applyJob(name: string, text: string, format: 'yaml' | 'json', opts: CallOptions & { ifMatch?: number } = {}) {
    const headers: Record<string, string> = { ...opts.headers, 'content-type': format === 'json' ? 'application/json' : 'application/yaml' };
    if (opts.ifMatch !== undefined) headers['if-match'] = String(opts.ifMatch);
    const res = await this.client.call<{ id: string; version: number }>('PUT', `/api/v1/jobs/${enc(name)}`, undefined, { ...opts, headers, rawBody: text });
    return { job: res.body, created: res.status === 201 };
  }

  async listJobs(page: { after?: string; limit?: number; q?: string } = {}, opts?: CallOptions) {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(page)) if (v !== undefined) query.set(k, String(v));
    return (await this.client.call<{ jobs: JobSummary[]; next: string | null }>('GET', `/api/v1/jobs${query.size ? `?${query}` : ''}`, undefined, opts)).body;
  }

  async getJob(name: string, opts?: CallOptions) {
    return (await this.client.call<{ id: string; version: number; config: unknown }>('GET', `/api/v1/jobs/${enc(name)}`, undefined, opts)).body;
  }

  async getJobVersion(name: string, version: number, opts?: CallOptions) {
    return (await this.client.call<{ id: string; version: number; source: string; format: string }>('GET', `/api/v1/jobs/${enc(name)}?version=${version}`, undefined, opts)).body;
  }

  async deleteJob(name: string, opts?: CallOptions): Promise<void> {
    await this.client.call('DELETE', `/api/v1/jobs/${enc(name)}`, undefined, opts);
  }

  async trigger(job: string, body: { parameters?: Record<string, string>; idempotencyKey?: string; cause?: BuildCause } = {}, opts?: CallOptions) {
    const res = await this.client.call<BuildRecord>('POST', `/api/v1/jobs/${enc(job)}/builds`, body, opts);
    return { build: res.body, created: res.status === 201 };
  }

  async listBuilds(job: string, page: { before?: number; limit?: number; status?: 'unfinished' } = {}, opts?: CallOptions) {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(page)) if (v !== undefined) query.set(k, String(v));
    return (await this.client.call<{ builds: BuildRecord[]; next: number | null }>('GET', `/api/v1/jobs/${enc(job)}/builds${query.size ? `?${query}` : ''}`, undefined, opts)).body;
  }

  async getBuild(job: string, number: number | 'lastSuccessful', opts?: CallOptions): Promise<VersionedBuildRecord> {
    return (await this.client.call<VersionedBuildRecord>('GET', `/api/v1/jobs/${enc(job)}/builds/${number}`, undefined, opts)).body;
  }

  async cancelBuild(job: string, number: number, opts?: CallOptions): Promise<BuildRecord> {
    return (await this.client.call<BuildRecord>('POST', `/api/v1/jobs/${enc(job)}/builds/${number}/cancel`, undefined, opts)).body;
  }

  /** Compare-and-set of the build record under the build-control ticket's lease. */
  async writeState(build: BuildRecord, expectedVersion: number, fence: { ticketId: string; token: number }, opts?: CallOptions): Promise<number> {
    const res = await this.client.call<{ version: number }>(
      'PUT',
      `/api/v1/jobs/${enc(build.job)}/builds/${build.number}/state`,
      { ...fence, expectedVersion, build },
      opts,
    );
    return res.body.version;
  }

  /** Moves a finished build's record from the coordinator to the store (idempotent). */
  async archiveBuild(job: string, number: number, opts?: CallOptions): Promise<void> {
    await this.client.call('POST', `/api/v1/jobs/${enc(job)}/builds/${number}/archive`, undefined, opts);
  }

  async console(job: string, number: number, opts?: CallOptions): Promise<string> {
    return (await this.client.call<string>('GET', `/api/v1/jobs/${enc(job)}/builds/${number}/console`, undefined, opts)).body;
  }
}
