/** One build: the pipeline graph, the selected step's attempts, the live console, artifacts. */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { bytes, dateTime, duration } from '../lib/format.js';
import { onDownloadClick } from '../lib/download.js';
import { usePoll } from '../lib/poll.js';
import { href, navigate } from '../lib/router.js';
import type { Build, StepState } from '../lib/types.js';
import { useCan } from '../session.js';
import { Status } from '../components/status.js';
import { PipelineGraph, stepDuration } from '../components/pipeline.js';
import { ConsoleView } from '../components/console.js';

const FINAL = new Set(['success', 'failure', 'error', 'cancelled']);

/** Re-renders every second while `on`, for running clocks. */
function useNow(on: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!on) return;
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, [on]);
  return on ? now : Date.now();
}

export function BuildPage({ job, number, step }: { job: string; number: number; step: string | null }) {
  const can = useCan();
  const [final, setFinal] = useState(false);
  const build = usePoll(() => api.build(job, number), final ? null : 1000, [job, number, final]);
  const b = build.data;
  const isFinal = b !== null && FINAL.has(b.status);
  useEffect(() => setFinal(isFinal), [isFinal]);
  const now = useNow(!isFinal);
  const select = (s: string | null): void => navigate(href.build(job, number, s), true);

  if (!b) {
    return (
      <section>
        <h1>
          {job} #{number}
        </h1>
        {build.error ? (
          <p class="error" role="alert">
            {build.error.message}
          </p>
        ) : (
          <p class="muted">Loading…</p>
        )}
      </section>
    );
  }
  const selected = step && b.steps.some((s) => s.name === step) ? step : null;
  const selectedStep = b.steps.find((s) => s.name === selected) ?? null;
  return (
    <section aria-labelledby="build-title" data-build-status={b.status}>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={href.jobs()}>Jobs</a> <span aria-hidden="true">›</span> <a href={href.job(job)}>{job}</a> <span aria-hidden="true">›</span>
      </nav>
      <div class="page-head">
        <div>
          <h1 id="build-title">
            {job} <span class="num">#{number}</span> <Status status={b.status} />
          </h1>
          <p class="muted">
            {b.trigger.kind} by {b.trigger.by} · {dateTime(b.createdAt)} · {duration((b.finishedAt ?? now) - (b.startedAt ?? b.createdAt))}
            {isFinal ? '' : ' so far'} · config version {b.configVersion}
            {b.cancelRequested && !isFinal && ' · cancelling…'}
          </p>
          {b.message && <p class="error-text">{b.message}</p>}
          {Object.keys(b.parameters).length > 0 && (
            <p class="params">
              {Object.entries(b.parameters).map(([k, v]) => (
                <code key={k}>
                  {k}={v}
                </code>
              ))}
            </p>
          )}
        </div>
        {can.trigger && <BuildActions build={b} isFinal={isFinal} onChange={build.refresh} />}
      </div>

      <h2 class="sr-only">Pipeline</h2>
      <PipelineGraph steps={b.steps} plan={b.plan} selected={selected} onSelect={select} now={now} />
      <div class="below-graph">
        {selectedStep ? <StepDetails step={selectedStep} now={now} /> : <p class="muted hint">Select a step for its attempts and workers, and to show only its console.</p>}
      </div>

      <ConsoleView job={job} number={number} steps={b.steps} selected={selected} onSelect={select} onStepEvent={build.refresh} />
      <Artifacts build={b} isFinal={isFinal} />
      {b.downstream.length > 0 && (
        <p>
          Triggered:{' '}
          {b.downstream.map((d) => {
            const [j = '', n = ''] = d.split('#');
            return (
              <a key={d} href={href.build(j, Number(n))} class="pill">
                {d}
              </a>
            );
          })}
        </p>
      )}
    </section>
  );
}

function BuildActions({ build, isFinal, onChange }: { build: Build; isFinal: boolean; onChange: () => void }) {
  const [busy, setBusy] = useState<'cancel' | 'rebuild' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async (what: 'cancel' | 'rebuild'): Promise<void> => {
    setBusy(what);
    setError(null);
    try {
      if (what === 'cancel') {
        await api.cancel(build.job, build.number);
        onChange();
      } else {
        const next = await api.trigger(build.job, build.parameters);
        navigate(href.build(build.job, next.number));
      }
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(null);
    }
  };
  return (
    <div class="actions">
      <div class="row">
        {!isFinal && (
          <button type="button" class="danger" disabled={busy !== null || build.cancelRequested} onClick={() => void run('cancel')} data-testid="cancel">
            {build.cancelRequested ? 'Cancelling…' : busy === 'cancel' ? 'Cancelling…' : 'Cancel'}
          </button>
        )}
        <button type="button" disabled={busy !== null} onClick={() => void run('rebuild')} data-testid="rebuild" title="Build again with the same parameters">
          {busy === 'rebuild' ? 'Starting…' : 'Rebuild'}
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

function StepDetails({ step, now }: { step: StepState; now: number }) {
  return (
    <div class="step-details" data-testid="step-details">
      <h2>
        {step.name} <Status status={step.status} small />
      </h2>
      <p class="muted">
        {step.type} · needs {step.needs.length ? step.needs.join(', ') : 'nothing'} · {duration(stepDuration(step, now))}
        {step.code && step.status !== 'success' && (
          <>
            {' '}
            · <code>{step.code}</code> {step.message}
          </>
        )}
      </p>
      <table class="grid compact">
        <caption class="sr-only">Attempts of {step.name}</caption>
        <thead>
          <tr>
            <th scope="col">Attempt</th>
            <th scope="col">Worker</th>
            <th scope="col">Started</th>
            <th scope="col">Duration</th>
            <th scope="col">Outcome</th>
          </tr>
        </thead>
        <tbody>
          {step.attempts.map((a) => (
            <tr key={a.attempt}>
              <td class="num">{a.attempt}</td>
              <td class="ellipsis">{a.worker ?? '—'}</td>
              <td>{dateTime(a.startedAt)}</td>
              <td class="num">{a.startedAt === null ? '—' : duration((a.finishedAt ?? now) - a.startedAt)}</td>
              <td>
                {a.outcome ?? (a.finishedAt === null ? 'running' : '—')}
                {a.code && <span class="muted"> ({a.code}{a.message ? `: ${a.message}` : ''})</span>}
              </td>
            </tr>
          ))}
          {step.attempts.length === 0 && (
            <tr>
              <td colSpan={5} class="muted">
                Not started.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

function Artifacts({ build, isFinal }: { build: Build; isFinal: boolean }) {
  // Artifacts appear when a publish step succeeds: look again whenever a step finishes.
  const finished = build.steps.filter((s) => s.finishedAt !== null).length;
  const list = usePoll(() => api.artifacts(build.job, build.number), null, [build.job, build.number, finished, isFinal]);
  const [error, setError] = useState<string | null>(null);
  const artifacts = list.data?.artifacts ?? [];
  return (
    <section aria-labelledby="artifacts-title" class="artifacts">
      <h2 id="artifacts-title">Artifacts</h2>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {artifacts.length === 0 ? (
        <p class="muted">{list.data ? 'None published.' : 'Loading…'}</p>
      ) : (
        <table class="grid compact" data-testid="artifacts">
          <thead>
            <tr>
              <th scope="col">Path</th>
              <th scope="col" class="right">
                Size
              </th>
            </tr>
          </thead>
          <tbody>
            {artifacts.map((a) => {
              const url = api.artifactUrl(build.job, build.number, a.path);
              const name = a.path.split('/').at(-1) ?? a.path;
              return (
                <tr key={a.path}>
                  <td>
                    <a href={url} download={name} onClick={onDownloadClick(url, name, setError)}>
                      {a.path}
                    </a>
                  </td>
                  <td class="num right">{bytes(a.size)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
