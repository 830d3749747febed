/**
 * Job config text in the browser: syntax highlighting of YAML and JSON, and finding the
 * line a validation problem's path (`steps[1].params.script`) points at, so the problem
 * can be shown next to its field. Both are line-based heuristics sized for job configs —
 * a full YAML parser would triple the bundle. When a path cannot be followed to the end
 * (a field that is missing, a flow mapping), the deepest line found is the answer.
 */

export interface Token {
  text: string;
  cls: string | null;
}

const YAML_KEY = /^(\s*)(- +)?((?:"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"{[][^:#]*?))(\s*:)(?=\s|$)/;
const SCALAR = /("(?:[^"\\]|\\.)*"?|'(?:[^']|'')*'?)|(#.*$)|(\b(?:true|false|null|yes|no|on|off)\b|~)|(-?\b\d+(?:\.\d+)?\b)|([{}[\],:])/g;

function scalarTokens(text: string, json: boolean): Token[] {
  const tokens: Token[] = [];
  let last = 0;
  for (const m of text.matchAll(SCALAR)) {
    const at = m.index;
    // '#' starts a YAML comment only at the start or after a space.
    if (m[2] && (json || (at > 0 && !/\s/.test(text[at - 1] ?? '')))) continue;
    if (at > last) tokens.push({ text: text.slice(last, at), cls: null });
    const cls = m[1] ? 'tok-str' : m[2] ? 'tok-comment' : m[3] ? 'tok-lit' : m[4] ? 'tok-num' : 'tok-punct';
    tokens.push({ text: m[0], cls });
    last = at + m[0].length;
    if (m[2]) break;
  }
  if (last < text.length) tokens.push({ text: text.slice(last), cls: null });
  return tokens;
}

/** One line of tokens per line of text. */
export function highlight(text: string, format: 'yaml' | 'json'): Token[][] {
  return text.split('\n').map((line) => {
    if (format === 'json') {
      const key = /^(\s*)("(?:[^"\\]|\\.)*")(\s*:)/.exec(line);
      if (!key) return scalarTokens(line, true);
      return [{ text: key[1] ?? '', cls: null }, { text: key[2] ?? '', cls: 'tok-key' }, { text: key[3] ?? '', cls: 'tok-punct' }, ...scalarTokens(line.slice(key[0].length), true)];
    }
    if (/^\s*#/.test(line)) return [{ text: line, cls: 'tok-comment' }];
    if (/^(---|\.\.\.)\s*$/.test(line)) return [{ text: line, cls: 'tok-punct' }];
    const key = YAML_KEY.exec(line);
    if (!key) {
      const dash = /^(\s*)(- +)/.exec(line);
      if (!dash) return scalarTokens(line, false);
      return [{ text: dash[1] ?? '', cls: null }, { text: dash[2] ?? '', cls: 'tok-punct' }, ...scalarTokens(line.slice(dash[0].length), false)];
    }
    return [
      { text: key[1] ?? '', cls: null },
      ...(key[2] ? [{ text: key[2], cls: 'tok-punct' }] : []),
      { text: key[3] ?? '', cls: 'tok-key' },
      { text: key[4] ?? '', cls: 'tok-punct' },
      ...scalarTokens(line.slice(key[0].length), false),
    ];
  });
}

/** `steps[1].params["a b"]` → ['steps', 1, 'params', 'a b']. */
export function pathSegments(path: string): (string | number)[] {
  const segments: (string | number)[] = [];
  const re = /\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\.?([^.[\]]+)/g;
  for (const m of path.matchAll(re)) {
    if (m[1] !== undefined) segments.push(Number(m[1]));
    else if (m[2] !== undefined) segments.push(JSON.parse(`"${m[2]}"`) as string);
    else if (m[3] !== undefined) segments.push(m[3]);
  }
  return segments;
}

interface Line {
  n: number;
  indent: number;
  text: string;
}

const unquote = (key: string): string => key.replace(/^"(.*)"$|^'(.*)'$/, '$1$2').trim();

/** The 0-based line a problem's path points at, or null when not even its first segment is found. */
export function lineOfPath(text: string, path: string, format: 'yaml' | 'json'): number | null {
  const segments = pathSegments(path);
  if (segments.length === 0) return null;
  return format === 'json' ? jsonLine(text, segments) : yamlLine(text, segments);
}

function yamlLine(text: string, segments: (string | number)[]): number | null {
  const lines: Line[] = text
    .split('\n')
    .map((t, n) => ({ n, text: t, indent: t.length - t.trimStart().length }))
    .filter((l) => l.text.trim() !== '' && !l.text.trimStart().startsWith('#'));
  // The block we search: lines [from, to) and the column its children start after.
  let from = 0;
  let to = lines.length;
  let parentIndent = -1;
  let found: number | null = null;
  for (const segment of segments) {
    const block = lines.slice(from, to);
    if (typeof segment === 'number') {
      const items = block.filter((l) => /^\s*- /.test(l.text) || /^\s*-$/.test(l.text));
      const column = Math.min(...items.map((l) => l.indent));
      const siblings = items.filter((l) => l.indent === column);
      const item = siblings[segment];
      if (!item) return found;
      const next = siblings[segment + 1];
      const start = lines.indexOf(item);
      found = item.n;
      from = start;
      to = next ? lines.indexOf(next) : endOfBlock(lines, start, column, to);
      parentIndent = column; // keys of the item start at the dash column + 2
      continue;
    }
    const keys = block.flatMap((l) => {
      const m = YAML_KEY.exec(l.text);
      const column = m ? (m[1] ?? '').length + (m[2] ?? '').length : -1;
      return m && column > parentIndent ? [{ line: l, key: unquote(m[3] ?? ''), column }] : [];
    });
    const childColumn = Math.min(...keys.map((k) => k.column));
    const hit = keys.find((k) => k.column === childColumn && k.key === segment);
    if (!hit) return found;
    const start = lines.indexOf(hit.line);
    found = hit.line.n;
    from = start + 1;
    to = endOfBlock(lines, start, hit.column, to, true);
    parentIndent = hit.column;
  }
  return found;
}

/**
 * The first line after `start` that is not deeper than `column`. Under a key, a dash at
 * the key's own column still belongs to it (`steps:` followed by `- name: ...`).
 */
function endOfBlock(lines: Line[], start: number, column: number, limit: number, underKey = false): number {
  for (let i = start + 1; i < limit; i++) {
    const l = lines[i];
    if (!l || l.indent > column) continue;
    if (underKey && l.indent === column && /^\s*-( |$)/.test(l.text)) continue;
    return i;
  }
  return limit;
}

/** Follows the path through the JSON text with a small scanner that knows where each value starts. */
function jsonLine(text: string, segments: (string | number)[]): number | null {
  let i = 0;
  const lineAt = (at: number): number => text.slice(0, at).split('\n').length - 1;
  const space = (): void => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const skipString = (): void => {
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
  };
  const skipValue = (): void => {
    space();
    const c = text[i];
    if (c === '"') return skipString();
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      space();
      while (i < text.length && text[i] !== close) {
        if (c === '{') {
          skipString();
          space();
          i++; // ':'
        }
        skipValue();
        space();
        if (text[i] === ',') i++;
        space();
      }
      i++;
      return;
    }
    while (i < text.length && !/[,}\]\s]/.test(text[i] ?? '')) i++;
  };
  let found: number | null = null;
  space();
  for (const segment of segments) {
    space();
    const c = text[i];
    if (typeof segment === 'number' && c === '[') {
      i++;
      for (let k = 0; k < segment; k++) {
        skipValue();
        space();
        if (text[i] !== ',') return found;
        i++;
      }
      space();
      found = lineAt(i);
      continue;
    }
    if (typeof segment !== 'string' || c !== '{') return found;
    i++;
    let matched = false;
    for (;;) {
      space();
      if (text[i] !== '"') return found;
      const keyStart = i;
      skipString();
      const key = JSON.parse(text.slice(keyStart, i)) as string;
      space();
      i++; // ':'
      if (key === segment) {
        found = lineAt(keyStart);
        matched = true;
        break;
      }
      skipValue();
      space();
      if (text[i] !== ',') return found;
      i++;
    }
    if (!matched) return found;
  }
  return found;
}
