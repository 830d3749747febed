/** One job: its builds (live), its config (highlighted), editing it, triggering it. */
import { useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { ago, duration } from '../lib/format.js';
import { usePoll } from '../lib/poll.js';
import { href } from '../lib/router.js';
import type { BuildSummary } from '../lib/types.js';
import { useCan } from '../session.js';
import { Status } from '../components/status.js';
import { TriggerButton } from '../components/trigger.js';
import { ConfigView } from '../components/config-view.js';
import { ConfigEditor } from '../components/config-editor.js';

export function JobPage({ job, tab }: { job: string; tab: 'builds' | 'config' | 'edit' }) {
  const can = useCan();
  const record = usePoll(() => api.job(job), 10_000, [job]);
  const current = record.data;
  const shown = tab === 'edit' && !can.editJobs ? 'config' : tab;

  if (record.error && !current) {
    return (
      <div>
        <h1>{job}</h1>
        <p class="error" role="alert">
          {record.error.message}
        </p>
        <p>
          <a href={href.jobs()}>All jobs</a>
        </p>
      </div>
    );
  }
  return (
    <section aria-labelledby="job-title">
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={href.jobs()}>Jobs</a> <span aria-hidden="true">›</span>
      </nav>
      <div class="page-head">
        <div>
          <h1 id="job-title">{job}</h1>
          <p class="muted">
            {current ? (
              <>
                {current.config.description || 'No description.'} · version {current.version} · updated {ago(current.updatedAt)}
              </>
            ) : (
              'Loading…'
            )}
          </p>
        </div>
        {current && can.trigger && <TriggerButton job={current} />}
      </div>
      <div class="tabs" role="tablist" aria-label="Job">
        <Tab id="builds" label="Builds" current={shown} job={job} />
        <Tab id="config" label="Config" current={shown} job={job} />
        {can.editJobs && <Tab id="edit" label="Edit" current={shown} job={job} />}
      </div>
      <div role="tabpanel" aria-labelledby={`tab-${shown}`} class="tabpanel">
        {shown === 'builds' && <BuildHistory job={job} />}
        {shown === 'config' && current && <ConfigView job={current} />}
        {shown === 'edit' && current && <ConfigEditor job={current} onApplied={record.refresh} />}
      </div>
    </section>
  );
}

function Tab({ id, label, current, job }: { id: 'builds' | 'config' | 'edit'; label: string; current: string; job: string }) {
  return (
    <a role="tab" id={`tab-${id}`} href={href.job(job, id)} aria-selected={current === id} class={current === id ? 'tab active' : 'tab'}>
      {label}
    </a>
  );
}

function BuildHistory({ job }: { job: string }) {
  const [before, setBefore] = useState<number[]>([]);
  const cursor = before.at(-1);
  const page = usePoll(() => api.builds(job, { limit: 20, ...(cursor ? { before: cursor } : {}) }), 2000, [job, cursor]);
  const builds = page.data?.builds;
  return (
    <div>
      {page.error && (
        <p class="error" role="alert">
          {page.error.message}
        </p>
      )}
      <table class="grid builds" data-testid="build-history" aria-busy={!builds}>
        <caption class="sr-only">Builds of {job}, newest first</caption>
        <colgroup>
          <col class="c-num" />
          <col class="c-status" />
          <col class="c-steps" />
          <col class="c-cause" />
          <col class="c-when" />
          <col class="c-dur" />
        </colgroup>
        <thead>
          <tr>
            <th scope="col">Build</th>
            <th scope="col">Status</th>
            <th scope="col">Steps</th>
            <th scope="col">Triggered by</th>
            <th scope="col">Started</th>
            <th scope="col">Duration</th>
          </tr>
        </thead>
        <tbody>
          {builds?.map((b) => (
            <BuildRow key={b.number} build={b} />
          ))}
          {builds && builds.length === 0 && (
            <tr>
              <td colSpan={6} class="muted">
                No builds yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <nav class="pager" aria-label="Pages of builds">
        <button type="button" disabled={before.length === 0} onClick={() => setBefore(before.slice(0, -1))}>
          ← Newer
        </button>
        <button
          type="button"
          disabled={!page.data?.next}
          onClick={() => {
            const next = page.data?.next;
            if (next) setBefore([...before, next]);
          }}
        >
          Older →
        </button>
      </nav>
    </div>
  );
}

function BuildRow({ build }: { build: BuildSummary }) {
  const done = build.steps.filter((s) => s.status === 'success').length;
  const end = build.finishedAt ?? Date.now();
  return (
    <tr>
      <td>
        <a href={href.build(build.job, build.number)} class="strong num">
          #{build.number}
        </a>
      </td>
      <td>
        <Status status={build.status} small />
      </td>
      <td class="num">
        {done}/{build.steps.length}
      </td>
      <td class="ellipsis">
        {build.trigger.kind} <span class="muted">{build.trigger.by}</span>
      </td>
      <td class="muted">{ago(build.startedAt ?? build.createdAt)}</td>
      <td class="num">{duration(end - (build.startedAt ?? build.createdAt))}</td>
    </tr>
  );
}

