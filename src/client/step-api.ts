import type { Readable } from 'node:stream';
import type { ApiClient, CallOptions } from './api-client.js';
import { ApiError } from './api-client.js';

/**
 * The calls a step worker makes while working on a step ticket. Every write carries the
 * lease token (`x-distci-token`), so a worker whose lease was lost is refused (409).
 */
export class StepApi {
  constructor(readonly client: ApiClient) {}

  /**
   * Appends console chunk `seq` (0, 1, 2, ... per attempt). Retrying the same seq with the
   * same text is harmless; chunks are shown in seq order.
   */
  async appendConsole(ticketId: string, token: number, seq: number, text: string, opts?: CallOptions): Promise<void> {
    await this.client.call('POST', `/api/v1/tickets/${ticketId}/console`, { token, seq, text }, opts);
  }

  /** The values of the secrets the step's ticket names; nothing else. */
  async secrets(ticketId: string, token: number, opts?: CallOptions): Promise<Record<string, string>> {
    const res = await this.client.call<{ secrets: Record<string, string> }>('GET', `/api/v1/tickets/${ticketId}/secrets`, undefined, {
      ...opts,
      headers: { 'x-distci-token': String(token) },
    });
    return res.body.secrets;
  }

  /** Uploads the step's workspace as a tar stream. `body` is a factory so a retry can re-create it. */
  async putWorkspace(ticketId: string, token: number, body: () => Readable, opts?: CallOptions): Promise<{ size: number }> {
    const res = await this.client.upload<{ size: number }>(`/api/v1/tickets/${ticketId}/workspace`, body, token, opts);
    return res.body;
  }

  /** The tar stream of a predecessor's workspace. */
  async getWorkspace(job: string, build: number, step: string, attempt: number, opts?: CallOptions): Promise<Readable> {
    return this.client.download(`/api/v1/jobs/${enc(job)}/builds/${build}/workspaces/${enc(step)}/${attempt}`, opts);
  }

  /** Stores an artifact of the build at `path` (relative, '/'-separated). */
  async putArtifact(ticketId: string, token: number, path: string, body: () => Readable, opts?: CallOptions): Promise<{ size: number }> {
    const res = await this.client.upload<{ size: number }>(`/api/v1/tickets/${ticketId}/artifacts/${encPath(path)}`, body, token, opts);
    return res.body;
  }

  async listArtifacts(job: string, build: number | 'lastSuccessful', opts?: CallOptions): Promise<{ number: number; artifacts: { path: string; size: number }[] }> {
    const res = await this.client.call<{ number: number; artifacts: { path: string; size: number }[] }>(
      'GET',
      `/api/v1/jobs/${enc(job)}/builds/${build}/artifacts`,
      undefined,
      opts,
    );
    return res.body;
  }

  async getArtifact(job: string, build: number, path: string, opts?: CallOptions): Promise<Readable> {
    return this.client.download(`/api/v1/jobs/${enc(job)}/builds/${build}/artifacts/${encPath(path)}`, opts);
  }
}

const enc = (s: string): string => encodeURIComponent(s);
const encPath = (p: string): string => p.split('/').map(enc).join('/');

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404;
}
