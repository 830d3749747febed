/** The queue underneath: tickets per kind and labels, leases and holders, workers, health. */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { age, ago, duration } from '../lib/format.js';
import { usePoll } from '../lib/poll.js';
import { href } from '../lib/router.js';
import type { TicketRefs } from '../lib/types.js';

function Refs({ refs }: { refs: TicketRefs }) {
  if (!refs.job) return <span class="muted">—</span>;
  if (!refs.build) return <a href={href.job(refs.job)}>{refs.job}</a>;
  return (
    <a href={href.build(refs.job, refs.build, refs.step ?? null)}>
      {refs.job}#{refs.build}
      {refs.step ? ` · ${refs.step}` : ''}
    </a>
  );
}

const labelsText = (labels: string[] | null): string => (labels === null ? '?' : labels.length ? labels.join(', ') : '—');

export function QueuePage() {
  const queue = usePoll(api.queue, 2000, []);
  const workers = usePoll(api.workers, 2000, []);
  const health = usePoll(api.readiness, 5000, []);
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, []);
  const q = queue.data;
  const w = workers.data;
  const h = health.data;
  return (
    <section aria-labelledby="queue-title" class="queue">
      <h1 id="queue-title">Queue &amp; workers</h1>
      {(queue.error ?? workers.error) && (
        <p class="error" role="alert">
          {(queue.error ?? workers.error)?.message}
        </p>
      )}
      <div class="cards">
        <div class="card" data-testid="health">
          <h2>Health</h2>
          {h ? (
            <ul class="plain-list">
              <li>
                <span class={h.coordinator.ok ? 'ok-text' : 'error-text'}>{h.coordinator.ok ? '✓' : '✗'}</span> coordinator <code>{h.coordinator.backend}</code>
                {h.coordinator.error && <span class="error-text"> {h.coordinator.error}</span>}
              </li>
              <li>
                <span class={h.store.ok ? 'ok-text' : 'error-text'}>{h.store.ok ? '✓' : '✗'}</span> store <code>{h.store.backend}</code>
                {h.store.error && <span class="error-text"> {h.store.error}</span>}
              </li>
            </ul>
          ) : (
            <p class="muted">{health.error ? health.error.message : 'Checking…'}</p>
          )}
        </div>
        <div class="card">
          <h2>This frontend</h2>
          {q ? (
            <ul class="plain-list">
              <li>
                <code>
                  {q.frontend.host} · pid {q.frontend.pid}
                </code>
              </li>
              <li>up {duration(now - q.frontend.startedAt)}</li>
              <li>{q.frontend.parkedClaims} claims waiting for work</li>
            </ul>
          ) : (
            <p class="muted">Loading…</p>
          )}
          <p class="muted small">Frontends are stateless and unregistered; each one shows itself.</p>
        </div>
        <div class="card">
          <h2>Totals</h2>
          {q ? (
            <ul class="plain-list">
              <li>
                <strong class="num">{q.routes.reduce((n, r) => n + r.pending, 0)}</strong> pending
              </li>
              <li>
                <strong class="num">{q.routes.reduce((n, r) => n + r.leased, 0)}</strong> leased
              </li>
              <li>
                <strong class="num">{w?.workers.length ?? 0}</strong> workers seen
              </li>
            </ul>
          ) : (
            <p class="muted">Loading…</p>
          )}
          {q?.truncated && <p class="muted small">Counts stop at 5,000 tickets per status.</p>}
        </div>
      </div>

      <h2>Queues</h2>
      <table class="grid" data-testid="routes">
        <caption class="sr-only">Tickets per kind and label set</caption>
        <thead>
          <tr>
            <th scope="col">Kind</th>
            <th scope="col">Labels</th>
            <th scope="col" class="right">
              Pending
            </th>
            <th scope="col">Oldest waiting</th>
            <th scope="col" class="right">
              Leased
            </th>
            <th scope="col">Longest running</th>
          </tr>
        </thead>
        <tbody>
          {q?.routes.map((r) => (
            <tr key={`${r.kind}|${r.labels.join(',')}`}>
              <td>
                <code>{r.kind}</code>
              </td>
              <td>{labelsText(r.labels)}</td>
              <td class="num right">{r.pending}</td>
              <td class="num">{age(r.oldestPendingAt, now)}</td>
              <td class="num right">{r.leased}</td>
              <td class="num">{age(r.oldestLeasedAt, now)}</td>
            </tr>
          ))}
          {q && q.routes.length === 0 && (
            <tr>
              <td colSpan={6} class="muted">
                Nothing pending or leased: the queue is empty.
              </td>
            </tr>
          )}
        </tbody>
      </table>

      <h2>Leases</h2>
      <table class="grid" data-testid="leases">
        <caption class="sr-only">Leased tickets, their holders and expiry</caption>
        <thead>
          <tr>
            <th scope="col">Ticket</th>
            <th scope="col">Kind</th>
            <th scope="col">For</th>
            <th scope="col">Holder</th>
            <th scope="col" class="right">
              Attempt
            </th>
            <th scope="col">Held for</th>
            <th scope="col">Expires in</th>
          </tr>
        </thead>
        <tbody>
          {q?.leases.map((t) => (
            <tr key={t.id}>
              <td class="num">{t.id}</td>
              <td>
                <code>{t.kind}</code>
              </td>
              <td class="ellipsis">
                <Refs refs={t.refs} />
              </td>
              <td class="ellipsis">{t.holder ?? '—'}</td>
              <td class="num right">
                {t.attempt}/{t.maxAttempts}
              </td>
              <td class="num">{age(t.leasedAt, now)}</td>
              <td class="num">{t.expiresAt === null ? '—' : duration(Math.max(0, t.expiresAt - now))}</td>
            </tr>
          ))}
          {q && q.leases.length === 0 && (
            <tr>
              <td colSpan={7} class="muted">
                No leases.
              </td>
            </tr>
          )}
        </tbody>
      </table>

      <h2>Workers</h2>
      <p class="muted small">
        Workers register nowhere: these are the holders of leases and the workers whose claims this frontend saw in the last {w ? Math.round(w.windowMs / 60_000) : 10} minutes.
      </p>
      <table class="grid" data-testid="workers">
        <caption class="sr-only">Workers seen lately</caption>
        <thead>
          <tr>
            <th scope="col">Worker</th>
            <th scope="col">State</th>
            <th scope="col">Kinds</th>
            <th scope="col">Labels</th>
            <th scope="col">Last seen</th>
          </tr>
        </thead>
        <tbody>
          {w?.workers.map((x) => (
            <tr key={x.id}>
              <td class="ellipsis">
                <code>{x.id}</code>
              </td>
              <td>
                {x.leases.length > 0 && <span class="pill busy">{x.leases.length} busy</span>}
                {x.waiting > 0 && <span class="pill idle">{x.waiting} waiting</span>}
                {x.leases.length === 0 && x.waiting === 0 && <span class="muted">gone quiet</span>}
              </td>
              <td class="ellipsis small">{x.kinds === null ? <span class="muted">not seen claiming here</span> : x.kinds.join(', ')}</td>
              <td>{labelsText(x.labels)}</td>
              <td>{ago(x.lastSeenAt, now)}</td>
            </tr>
          ))}
          {w && w.workers.length === 0 && (
            <tr>
              <td colSpan={5} class="muted">
                No worker seen lately. Start one: <code>distci worker --server URL</code>
              </td>
            </tr>
          )}
        </tbody>
      </table>

      <h2>Oldest pending tickets</h2>
      <table class="grid" data-testid="pending">
        <thead>
          <tr>
            <th scope="col">Ticket</th>
            <th scope="col">Kind</th>
            <th scope="col">Labels</th>
            <th scope="col">For</th>
            <th scope="col" class="right">
              Priority
            </th>
            <th scope="col">Waiting</th>
          </tr>
        </thead>
        <tbody>
          {q?.pending.slice(0, 50).map((t) => (
            <tr key={t.id}>
              <td class="num">{t.id}</td>
              <td>
                <code>{t.kind}</code>
              </td>
              <td>{labelsText(t.labels)}</td>
              <td class="ellipsis">
                <Refs refs={t.refs} />
              </td>
              <td class="num right">{t.priority}</td>
              <td class="num">{age(t.createdAt, now)}</td>
            </tr>
          ))}
          {q && q.pending.length === 0 && (
            <tr>
              <td colSpan={6} class="muted">
                Nothing waiting.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}
