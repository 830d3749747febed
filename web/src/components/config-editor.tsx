/**
 * Editing a job's config: a textarea over a highlighted copy of its text. Apply sends it
 * with If-Match (a concurrent change is a conflict, never lost); a refused config shows
 * each problem next to its line, and the list of problems links to the lines.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../lib/api.js';
import { lineOfPath } from '../lib/config-text.js';
import { href, navigate } from '../lib/router.js';
import type { ConfigProblem, JobRecord } from '../lib/types.js';
import { CodeLines } from './code.js';

interface Located extends ConfigProblem {
  line: number | null;
}

export function ConfigEditor({ job, onApplied }: { job: JobRecord; onApplied: () => void }) {
  const [text, setText] = useState<string | null>(null);
  const [format, setFormat] = useState<'yaml' | 'json'>('yaml');
  const [base, setBase] = useState(job.version);
  const [problems, setProblems] = useState<Located[]>([]);
  const [message, setMessage] = useState<{ kind: 'error' | 'ok'; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);
  const under = useRef<HTMLPreElement>(null);
  const gutter = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let live = true;
    api
      .jobVersion(job.id, job.version)
      .then((v) => {
        if (!live) return;
        setText(v.source);
        setFormat(v.format);
        setBase(v.version);
      })
      .catch((err: unknown) => setMessage({ kind: 'error', text: err instanceof Error ? err.message : String(err) }));
    return () => {
      live = false;
    };
  }, [job.id]);

  const marked = useMemo(() => new Set(problems.map((p) => p.line).filter((l): l is number => l !== null)), [problems]);
  const lineCount = (text ?? '').split('\n').length;

  const syncScroll = (): void => {
    const a = area.current;
    if (!a) return;
    if (under.current) {
      under.current.scrollTop = a.scrollTop;
      under.current.scrollLeft = a.scrollLeft;
    }
    if (gutter.current) gutter.current.scrollTop = a.scrollTop;
  };

  const goToLine = (line: number): void => {
    const a = area.current;
    if (!a || text === null) return;
    const start = text.split('\n').slice(0, line).reduce((n, l) => n + l.length + 1, 0);
    a.focus();
    a.setSelectionRange(start, start + (text.split('\n')[line]?.length ?? 0));
    const lineHeight = parseFloat(getComputedStyle(a).lineHeight) || 20;
    a.scrollTop = Math.max(0, line * lineHeight - a.clientHeight / 3);
    syncScroll();
  };

  const apply = async (): Promise<void> => {
    if (text === null) return;
    setBusy(true);
    setMessage(null);
    try {
      const applied = await api.applyJob(job.id, text, format, base);
      setProblems([]);
      setBase(applied.version);
      onApplied();
      navigate(href.job(job.id, 'config'));
    } catch (err) {
      if (err instanceof ApiError && err.status === 400) {
        const list = Array.isArray(err.details.errors) ? (err.details.errors as ConfigProblem[]) : [{ path: '', message: err.message }];
        const syntaxLine = typeof err.details.line === 'number' ? err.details.line - 1 : null;
        setProblems(list.map((p) => ({ ...p, line: p.path ? lineOfPath(text, p.path, format) : syntaxLine })));
        setMessage({ kind: 'error', text: `Not applied: ${list.length === 1 ? 'one problem' : `${list.length} problems`} to fix.` });
      } else if (err instanceof ApiError && err.status === 409) {
        setMessage({ kind: 'error', text: `${err.message}. Copy your text, reload the page and apply again.` });
      } else {
        setMessage({ kind: 'error', text: err instanceof Error ? err.message : String(err) });
      }
    } finally {
      setBusy(false);
    }
  };

  if (text === null) return <p class="muted">{message?.text ?? 'Loading the config…'}</p>;
  const byLine = new Map<number, Located[]>();
  for (const p of problems) if (p.line !== null) byLine.set(p.line, [...(byLine.get(p.line) ?? []), p]);
  const notes = new Map([...byLine].map(([line, list]) => [line, list.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ')]));
  return (
    <div class="editor-wrap">
      <div class="editor-main">
        <label for="config-text" class="block">
          Config of <strong>{job.id}</strong> ({format.toUpperCase()}), based on version {base}
        </label>
        <div class={`editor${problems.length ? ' invalid' : ''}`}>
          <div class="gutter" ref={gutter} aria-hidden="true">
            {Array.from({ length: lineCount }, (_, n) => (
              <div key={n} class={marked.has(n) ? 'ln bad' : 'ln'} title={byLine.get(n)?.map((p) => p.message).join('; ')}>
                {marked.has(n) ? '●' : n + 1}
              </div>
            ))}
          </div>
          <div class="editor-body">
            <pre class="code under" ref={under} aria-hidden="true">
              <code>
                <CodeLines text={text.endsWith('\n') ? `${text} ` : text} format={format} notes={notes} />
              </code>
            </pre>
            <textarea
              id="config-text"
              ref={area}
              value={text}
              spellcheck={false}
              autocapitalize="off"
              autocomplete="off"
              wrap="off"
              aria-invalid={problems.length > 0}
              aria-describedby={problems.length ? 'config-problems' : undefined}
              onInput={(e) => setText(e.currentTarget.value)}
              onScroll={syncScroll}
              onKeyDown={(e) => {
                // Tab indents (YAML wants spaces); Escape then Tab leaves the field.
                if (e.key === 'Tab' && !e.shiftKey && !e.ctrlKey && !e.altKey && e.currentTarget.dataset.escaped !== '1') {
                  e.preventDefault();
                  const a = e.currentTarget;
                  a.setRangeText('  ', a.selectionStart, a.selectionEnd, 'end');
                  setText(a.value);
                }
                e.currentTarget.dataset.escaped = e.key === 'Escape' ? '1' : '';
              }}
            />
          </div>
        </div>
        <p class="muted small">Tab indents; press Escape first to move on with Tab.</p>
        <div class="row">
          <button type="button" class="primary" disabled={busy} onClick={() => void apply()} data-testid="apply">
            {busy ? 'Applying…' : 'Apply'}
          </button>
          <a href={href.job(job.id, 'config')} class="button">
            Discard
          </a>
          {message && (
            <span class={message.kind === 'error' ? 'error-text' : 'ok-text'} role={message.kind === 'error' ? 'alert' : 'status'}>
              {message.text}
            </span>
          )}
        </div>
      </div>
      <aside class="problems" aria-labelledby="problems-title" hidden={problems.length === 0}>
        <h2 id="problems-title">Problems</h2>
        <ul id="config-problems" data-testid="config-problems">
          {problems.map((p, i) => (
            <li key={i}>
              {p.line !== null ? (
                <button type="button" class="link" onClick={() => goToLine(p.line ?? 0)}>
                  line {p.line + 1}
                </button>
              ) : (
                <span class="muted">whole config</span>
              )}{' '}
              {p.path && <code>{p.path}</code>} {p.message}
            </li>
          ))}
        </ul>
      </aside>
    </div>
  );
}
