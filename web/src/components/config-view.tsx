/** The job's config as applied: the text people wrote, highlighted, and what it means. */
import { api } from '../lib/api.js';
import { usePoll } from '../lib/poll.js';
import { href } from '../lib/router.js';
import type { JobRecord } from '../lib/types.js';
import { CodeLines } from './code.js';

export function ConfigView({ job }: { job: JobRecord }) {
  const source = usePoll(() => api.jobVersion(job.id, job.version), null, [job.id, job.version]);
  const config = job.config;
  const parameters = Object.entries(config.parameters);
  return (
    <div class="config">
      <dl class="facts">
        <dt>Steps</dt>
        <dd>{config.steps.map((s) => s.name).join(' → ') || '—'}</dd>
        {parameters.length > 0 && (
          <>
            <dt>Parameters</dt>
            <dd>{parameters.map(([name, p]) => `${name}${p.default !== undefined ? ` = ${p.default}` : ' (required)'}`).join(', ')}</dd>
          </>
        )}
        {config.triggers.cron && (
          <>
            <dt>Cron</dt>
            <dd>
              <code>{config.triggers.cron}</code> (UTC)
            </dd>
          </>
        )}
        {config.downstream.length > 0 && (
          <>
            <dt>Downstream</dt>
            <dd>
              {config.downstream.map((d, i) => (
                <span key={d.job}>
                  {i > 0 && ', '}
                  <a href={href.job(d.job)}>{d.job}</a>
                </span>
              ))}
            </dd>
          </>
        )}
        <dt>Timeout</dt>
        <dd>{config.timeoutSeconds} s</dd>
      </dl>
      {source.error && (
        <p class="error" role="alert">
          {source.error.message}
        </p>
      )}
      {source.data && (
        <figure>
          <figcaption class="muted">
            Version {source.data.version} as applied ({source.data.format.toUpperCase()})
          </figcaption>
          <pre class="code numbered" tabIndex={0} aria-label={`config of ${job.id}, version ${job.version}`} data-testid="config-source">
            <code>
              <CodeLines text={source.data.source} format={source.data.format} />
            </code>
          </pre>
        </figure>
      )}
    </div>
  );
}
