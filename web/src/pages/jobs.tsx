/** All jobs, paged and searched on the server, with each job's last build and its trend. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { ago, duration } from '../lib/format.js';
import { usePoll } from '../lib/poll.js';
import { href, navigate } from '../lib/router.js';
import type { JobSummary } from '../lib/types.js';
import { Status } from '../components/status.js';
import { Trend, useTrend } from '../components/trend.js';

const PAGE = 50;

export function JobsPage({ q, after }: { q: string; after: string | null }) {
  const [text, setText] = useState(q);
  const [cursors, setCursors] = useState<(string | null)[]>([]);
  // The page remembers the query it answers: rows of the last query stay until the next one's arrive.
  const jobs = usePoll(async () => ({ q, page: await api.jobs({ q, ...(after ? { after } : {}), limit: PAGE }) }), 5000, [q, after]);
  const typing = useRef<number | undefined>(undefined);

  useEffect(() => setText(q), [q]);
  const search = (value: string): void => {
    setText(value);
    window.clearTimeout(typing.current);
    typing.current = window.setTimeout(() => {
      setCursors([]);
      navigate(href.jobs(value.trim()), true);
    }, 100);
  };

  const page = jobs.data?.page ?? null;
  const offset = cursors.length * PAGE;
  return (
    <section aria-labelledby="jobs-title">
      <div class="page-head">
        <h1 id="jobs-title">Jobs</h1>
        <form role="search" class="search" onSubmit={(e) => e.preventDefault()}>
          <label for="job-search">Search jobs</label>
          <input id="job-search" type="search" value={text} placeholder="name or description" autocomplete="off" spellcheck={false} onInput={(e) => search(e.currentTarget.value)} />
        </form>
      </div>
      {jobs.error && (
        <p class="error" role="alert">
          Could not load the jobs: {jobs.error.message}
        </p>
      )}
      <table class="grid jobs" aria-busy={page === null} data-testid="jobs-table" data-query={jobs.data?.q}>
        <caption class="sr-only">Jobs{q ? ` matching “${q}”` : ''}</caption>
        <colgroup>
          <col class="c-name" />
          <col class="c-last" />
          <col class="c-dur" />
          <col class="c-trend" />
          <col class="c-when" />
        </colgroup>
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">Last build</th>
            <th scope="col">Duration</th>
            <th scope="col">Trend</th>
            <th scope="col">Finished</th>
          </tr>
        </thead>
        <tbody>
          {page?.jobs.map((job) => (
            <JobRow key={job.id} job={job} />
          ))}
          {page && page.jobs.length === 0 && (
            <tr>
              <td colSpan={5} class="muted">
                {q ? `No job matches “${q}”.` : 'No jobs yet. Apply one with `distci job apply FILE` or PUT /api/v1/jobs/NAME.'}
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <nav class="pager" aria-label="Pages of jobs">
        <button
          type="button"
          disabled={after === null}
          onClick={() => {
            const previous = cursors.at(-1) ?? null;
            setCursors(cursors.slice(0, -1));
            navigate(href.jobs(q, previous));
          }}
        >
          ← Previous
        </button>
        <span class="muted" aria-live="polite">
          {page ? (page.jobs.length ? `${offset + 1}–${offset + page.jobs.length}` : '') : 'Loading…'}
        </span>
        <button
          type="button"
          disabled={!page?.next}
          onClick={() => {
            if (!page?.next) return;
            setCursors([...cursors, after]);
            navigate(href.jobs(q, page.next));
          }}
        >
          Next →
        </button>
      </nav>
    </section>
  );
}

function JobRow({ job }: { job: JobSummary }) {
  const trend = useTrend(job);
  const last = job.lastBuild;
  const running = last && last.finishedAt === null;
  return (
    <tr>
      <td>
        <a href={href.job(job.id)} class="strong">
          {job.id}
        </a>
        {job.description && <div class="muted ellipsis">{job.description}</div>}
      </td>
      <td>
        {last ? (
          <a href={href.build(job.id, last.number)} class="plain" aria-label={`build ${last.number}: ${last.status}`}>
            <span class="num">#{last.number}</span> <Status status={last.status} small />
          </a>
        ) : (
          <span class="muted">never built</span>
        )}
      </td>
      <td class="num">{last ? (running ? `${duration(Date.now() - last.createdAt)} so far` : duration((last.finishedAt ?? 0) - last.createdAt)) : '—'}</td>
      <td>
        <Trend points={trend} />
      </td>
      <td class="muted">{last ? (running ? 'running' : ago(last.finishedAt)) : '—'}</td>
    </tr>
  );
}
