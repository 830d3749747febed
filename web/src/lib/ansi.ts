/**
 * ANSI SGR escape sequences → styled text runs. Colours map to CSS classes (so dark and
 * light themes choose the actual colours); 256-colour and truecolour codes map to the
 * nearest of the 16. Other escape sequences (cursor movement) are dropped.
 */
export interface AnsiStyle {
  fg: number | null;
  bg: number | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
}

export interface AnsiRun {
  text: string;
  style: AnsiStyle;
}

export const plainStyle = (): AnsiStyle => ({ fg: null, bg: null, bold: false, dim: false, italic: false, underline: false });

// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[([0-9;:?]*)([A-Za-z])|\x1b[()][A-Za-z0-9]|\x1b[=>78]/g;

/** Splits `text` into runs, starting from and updating `state` (a log arrives in chunks). */
export function parseAnsi(text: string, state: AnsiStyle): AnsiRun[] {
  const runs: AnsiRun[] = [];
  let last = 0;
  for (const match of text.matchAll(ESCAPE)) {
    const at = match.index;
    if (at > last) runs.push({ text: text.slice(last, at), style: { ...state } });
    last = at + match[0].length;
    if (match[2] === 'm') applySgr(match[1] ?? '', state);
  }
  if (last < text.length) runs.push({ text: text.slice(last), style: { ...state } });
  return runs;
}

function applySgr(params: string, s: AnsiStyle): void {
  const codes = (params === '' ? '0' : params).split(/[;:]/).map((c) => Number(c || '0'));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i] ?? 0;
    if (c === 0) Object.assign(s, plainStyle());
    else if (c === 1) s.bold = true;
    else if (c === 2) s.dim = true;
    else if (c === 3) s.italic = true;
    else if (c === 4) s.underline = true;
    else if (c === 22) s.bold = s.dim = false;
    else if (c === 23) s.italic = false;
    else if (c === 24) s.underline = false;
    else if (c >= 30 && c <= 37) s.fg = c - 30;
    else if (c >= 90 && c <= 97) s.fg = c - 90 + 8;
    else if (c === 39) s.fg = null;
    else if (c >= 40 && c <= 47) s.bg = c - 40;
    else if (c >= 100 && c <= 107) s.bg = c - 100 + 8;
    else if (c === 49) s.bg = null;
    else if (c === 38 || c === 48) {
      const [colour, used] = extendedColour(codes, i + 1);
      if (c === 38) s.fg = colour;
      else s.bg = colour;
      i += used;
    }
  }
}

/** `5;n` (256 colours) or `2;r;g;b` → the nearest basic colour, and how many codes were read. */
function extendedColour(codes: number[], at: number): [number | null, number] {
  if (codes[at] === 5) {
    const n = codes[at + 1] ?? 0;
    if (n < 16) return [n, 2];
    if (n >= 232) return [n < 244 ? 8 : 7, 2];
    const v = n - 16;
    return [nearest(Math.floor(v / 36) * 51, Math.floor((v % 36) / 6) * 51, (v % 6) * 51), 2];
  }
  if (codes[at] === 2) return [nearest(codes[at + 1] ?? 0, codes[at + 2] ?? 0, codes[at + 3] ?? 0), 4];
  return [null, 0];
}

function nearest(r: number, g: number, b: number): number {
  const bright = Math.max(r, g, b) > 191 ? 8 : 0;
  const bit = (v: number): number => (v > 95 ? 1 : 0);
  const basic = bit(r) | (bit(g) << 1) | (bit(b) << 2);
  return basic === 0 && Math.max(r, g, b) > 64 ? 8 : basic + bright;
}

/** CSS classes for a style; null when the text is plain. */
export function styleClasses(s: AnsiStyle): string | null {
  const classes: string[] = [];
  if (s.fg !== null) classes.push(`fg${s.fg}`);
  if (s.bg !== null) classes.push(`bg${s.bg}`);
  if (s.bold) classes.push('b');
  if (s.dim) classes.push('dim');
  if (s.italic) classes.push('i');
  if (s.underline) classes.push('u');
  return classes.length > 0 ? classes.join(' ') : null;
}
