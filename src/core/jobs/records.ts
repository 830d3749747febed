/** A job as the API stores and returns it; shared by the frontend and the web UI (types only). */
import type { JobConfig } from './types.js';

export interface JobRecord {
  id: string;
  version: number;
  config: JobConfig;
  createdAt: number;
  updatedAt: number;
}

export interface JobVersion {
  id: string;
  version: number;
  config: JobConfig;
  /** The text as applied, so `show` gives back what people wrote. */
  source: string;
  format: 'yaml' | 'json';
  appliedAt: number;
}
