/**
 * A build's live console over Server-Sent Events: every step's output with ANSI colours,
 * one step or all of them, a marker where an attempt was lost. It follows the end of the
 * log until the reader scrolls up, and again once they scroll back down (or press
 * Follow). The box has a fixed height, so streaming output never moves the page.
 *
 * Output is appended to the DOM directly, not re-rendered: a long log stays cheap.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { parseAnsi, plainStyle, styleClasses, type AnsiStyle } from '../lib/ansi.js';
import { onDownloadClick } from '../lib/download.js';
import { readEvents } from '../lib/sse.js';
import type { ConsoleEvent, StepState } from '../lib/types.js';

type Entry =
  | { kind: 'text'; step: string; attempt: number; text: string }
  | { kind: 'lost'; step: string; attempt: number; message: string }
  | { kind: 'status'; step: string; status: string; code?: string; message?: string }
  | { kind: 'end'; status: string; message?: string };

class LogModel {
  readonly entries: Entry[] = [];
  private readonly ansi = new Map<string, AnsiStyle>();
  private header: string | null = null;

  constructor(
    private readonly pre: HTMLElement,
    private filter: string | null,
  ) {}

  setFilter(filter: string | null): void {
    this.filter = filter;
    this.pre.textContent = '';
    this.ansi.clear();
    this.header = null;
    for (const entry of this.entries) this.render(entry);
  }

  add(entry: Entry): void {
    this.entries.push(entry);
    this.render(entry);
  }

  private shows(step: string | null): boolean {
    return this.filter === null || step === this.filter;
  }

  private render(entry: Entry): void {
    if (entry.kind === 'end') return this.line(`build ${entry.status}${entry.message ? `: ${entry.message}` : ''}`, 'log-end');
    if (!this.shows(entry.step)) return;
    if (entry.kind === 'lost') {
      return this.line(`⚠ attempt ${entry.attempt} of ${entry.step} was lost: ${entry.message} — retried as attempt ${entry.attempt + 1}`, 'log-lost', { role: 'note' });
    }
    if (entry.kind === 'status') {
      const detail = entry.code && entry.status !== 'success' ? ` (${entry.code}${entry.message ? `: ${entry.message}` : ''})` : '';
      return this.line(`${entry.step}: ${entry.status}${detail}`, `log-step s-${entry.status}`);
    }
    const key = `${entry.step}\u0000${entry.attempt}`;
    if (this.header !== key) {
      this.header = key;
      this.line(this.filter === null ? `${entry.step} · attempt ${entry.attempt}` : `attempt ${entry.attempt}`, 'log-head');
    }
    let state = this.ansi.get(key);
    if (!state) this.ansi.set(key, (state = plainStyle()));
    const fragment = document.createDocumentFragment();
    for (const run of parseAnsi(entry.text, state)) {
      const classes = styleClasses(run.style);
      if (!classes) fragment.append(run.text);
      else {
        const span = document.createElement('span');
        span.className = classes;
        span.textContent = run.text;
        fragment.append(span);
      }
    }
    this.pre.append(fragment);
  }

  private line(text: string, className: string, attrs: Record<string, string> = {}): void {
    // Markers start on a line of their own even when the output before them did not end one.
    const last = this.pre.lastChild?.textContent ?? '\n';
    const div = document.createElement('span');
    div.className = `log-marker ${className}`;
    for (const [k, v] of Object.entries(attrs)) div.setAttribute(k, v);
    div.textContent = `${last.endsWith('\n') || this.pre.childNodes.length === 0 ? '' : '\n'}${text}\n`;
    this.pre.append(div);
  }
}

export function ConsoleView({
  job,
  number,
  steps,
  selected,
  onSelect,
  onStepEvent,
}: {
  job: string;
  number: number;
  steps: StepState[];
  selected: string | null;
  onSelect: (step: string | null) => void;
  onStepEvent: () => void;
}) {
  const box = useRef<HTMLDivElement>(null);
  const pre = useRef<HTMLPreElement>(null);
  const model = useRef<LogModel | null>(null);
  const [follow, setFollow] = useState(true);
  const following = useRef(true);
  const [state, setState] = useState<'connecting' | 'live' | 'ended' | 'error'>('connecting');
  const [error, setError] = useState<string | null>(null);
  const notify = useRef(onStepEvent);
  notify.current = onStepEvent;
  const selectedRef = useRef(selected);
  selectedRef.current = selected;

  const scrollToEnd = (): void => {
    const b = box.current;
    if (b) b.scrollTop = b.scrollHeight;
  };

  useEffect(() => {
    if (!pre.current) return;
    const log = new LogModel(pre.current, selected);
    model.current = log;
    const stop = new AbortController();
    let ended = false;
    const onEvent = (event: ConsoleEvent): void => {
      switch (event.type) {
        case 'chunk':
          log.add({ kind: 'text', step: event.chunk.step, attempt: event.chunk.attempt, text: event.chunk.text });
          break;
        case 'lost':
          log.add({ kind: 'lost', step: event.step, attempt: event.attempt, message: event.message });
          notify.current();
          break;
        case 'step':
          log.add({ kind: 'status', step: event.step, status: event.status, ...(event.code ? { code: event.code } : {}), ...(event.message ? { message: event.message } : {}) });
          notify.current();
          break;
        case 'end':
          ended = true;
          log.add({ kind: 'end', status: event.status, ...(event.message ? { message: event.message } : {}) });
          notify.current();
          break;
      }
      if (following.current) scrollToEnd();
    };
    const connect = async (attempt: number): Promise<void> => {
      setState('connecting');
      try {
        await readEvents(api.consoleUrl(job, number), stop.signal, (e) => {
          setState('live');
          onEvent(JSON.parse(e.data) as ConsoleEvent);
        });
        if (ended) setState('ended');
        else throw new Error('the stream closed before the build ended');
      } catch (err) {
        if (stop.signal.aborted) return;
        setState('error');
        setError(err instanceof Error ? err.message : String(err));
        // A new stream starts from the beginning: start the log afresh.
        await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** attempt)));
        if (stop.signal.aborted) return;
        log.entries.length = 0;
        log.setFilter(selectedRef.current);
        void connect(attempt + 1);
      }
    };
    void connect(0);
    return () => stop.abort();
  }, [job, number]);

  useEffect(() => {
    model.current?.setFilter(selected);
    if (following.current) scrollToEnd();
  }, [selected]);

  const onScroll = (): void => {
    const b = box.current;
    if (!b) return;
    const atEnd = b.scrollHeight - b.scrollTop - b.clientHeight < 8;
    if (atEnd !== following.current) {
      following.current = atEnd;
      setFollow(atEnd);
    }
  };

  const rawUrl = api.consoleUrl(job, number).replace('?follow=1', '');
  return (
    <section class="console-section" aria-labelledby="console-title">
      <div class="console-bar">
        <h2 id="console-title">Console</h2>
        <label for="console-step">Step</label>
        <select id="console-step" value={selected ?? ''} onChange={(e) => onSelect(e.currentTarget.value || null)}>
          <option value="">All steps</option>
          {steps.map((s) => (
            <option key={s.name} value={s.name}>
              {s.name}
            </option>
          ))}
        </select>
        <span class={`live-state ${state}`} role="status" data-testid="console-state">
          {state === 'live' ? '● live' : state === 'ended' ? 'complete' : state === 'connecting' ? 'connecting…' : `reconnecting (${error ?? 'error'})`}
        </span>
        <button
          type="button"
          aria-pressed={follow}
          data-testid="follow"
          onClick={() => {
            following.current = true;
            setFollow(true);
            scrollToEnd();
          }}
        >
          {follow ? 'Following' : 'Follow'}
        </button>
        <a href={rawUrl} class="button" download={`${job}-${number}.log`} onClick={onDownloadClick(rawUrl, `${job}-${number}.log`, setError)}>
          Raw log
        </a>
      </div>
      <div class="console" ref={box} onScroll={onScroll} tabIndex={0} role="log" aria-live="off" aria-label={`console of build ${number}${selected ? `, step ${selected}` : ''}`} data-testid="console">
        <pre ref={pre} />
      </div>
    </section>
  );
}
