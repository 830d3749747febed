/** Highlighted config text; marked lines carry a problem, shown at the end of the line. */
import { highlight } from '../lib/config-text.js';

export function CodeLines({ text, format, notes }: { text: string; format: 'yaml' | 'json'; notes?: ReadonlyMap<number, string> }) {
  const lines = highlight(text, format);
  return (
    <>
      {lines.map((tokens, n) => {
        const note = notes?.get(n);
        return (
          <span key={n} class={note ? 'line marked' : 'line'}>
            {tokens.map((t, i) => (t.cls ? <span key={i} class={t.cls}>{t.text}</span> : t.text))}
            {note && <span class="note">{`  ◀ ${note}`}</span>}
            {'\n'}
          </span>
        );
      })}
    </>
  );
}
