/**
 * The job's `status` section: where a build reports its start and result on the commit
 * it built. Defaults and the rules the shape cannot express (URL, repository spelling).
 */
import type { Problems } from './problems.js';
import type { RawJob } from './schema.js';
import type { CommitStatusConfig, StatusProvider } from './types.js';

export const DEFAULT_API_URLS: Record<StatusProvider, string> = {
  github: 'https://api.github.com',
  gitlab: 'https://gitlab.com/api/v4',
};

const SEGMENT = '[A-Za-z0-9_.-]+';
const REPOSITORY_RULES: Record<StatusProvider, { pattern: RegExp; rule: string }> = {
  github: { pattern: new RegExp(`^${SEGMENT}/${SEGMENT}$`), rule: 'owner/name, as in github.com/owner/name' },
  gitlab: { pattern: new RegExp(`^(?:[0-9]+|${SEGMENT}(?:/${SEGMENT})+)$`), rule: 'the project path (group/project) or its numeric id' },
};

export function normalizeStatus(raw: NonNullable<RawJob['status']>, job: string, problems: Problems): CommitStatusConfig {
  const apiUrl = (raw.apiUrl ?? DEFAULT_API_URLS[raw.provider]).replace(/\/+$/, '');
  const urlProblem = apiUrlProblem(apiUrl);
  if (urlProblem) problems.add('status.apiUrl', urlProblem);
  const rule = REPOSITORY_RULES[raw.provider];
  if (raw.repository !== undefined && !rule.pattern.test(raw.repository)) {
    problems.add('status.repository', `'${raw.repository}' is not ${rule.rule}`);
  }
  return {
    provider: raw.provider,
    apiUrl,
    ...(raw.repository === undefined ? {} : { repository: raw.repository }),
    tokenSecret: raw.tokenSecret,
    context: raw.context ?? `distci/${job}`,
  };
}

function apiUrlProblem(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `'${text}' is not a URL; give the API root, e.g. ${DEFAULT_API_URLS.github}`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `must be an http(s) URL, not ${url.protocol}`;
  // URLs end up in logs and ticket views; the token has its own secret.
  if (url.username || url.password) return 'must not hold credentials; put the token in the secret named by status.tokenSecret';
  if (url.search || url.hash) return 'must be the API root without a query or fragment';
  return null;
}
