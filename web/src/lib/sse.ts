/**
 * Server-Sent Events read with fetch rather than EventSource, because EventSource cannot
 * send the Authorization header a signed-in user needs.
 */
import { authHeaders } from './api.js';

export interface SseEvent {
  event: string;
  data: string;
}

/** Reads `url` until the server ends the stream or `signal` aborts; resolves when it ends. */
export async function readEvents(url: string, signal: AbortSignal, onEvent: (event: SseEvent) => void): Promise<void> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...authHeaders() }, signal });
  if (!res.ok || !res.body) throw new Error(`console stream: HTTP ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    // Events end with a blank line; keep an unfinished one for the next read.
    let end: number;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      const parsed = parseBlock(block);
      if (parsed) onEvent(parsed);
    }
  }
}

function parseBlock(block: string): SseEvent | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(':')) continue; // comment: keep-alive
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return data.length > 0 ? { event, data: data.join('\n') } : null;
}
