/**
 * Secret masking for everything a step sends out (console chunks, result messages).
 *
 * Masked forms of each secret value: the value itself and, for values of 4 characters or
 * more, its base64 encoding at each of the three byte alignments it can have inside a
 * longer encoded string (so `Authorization: Basic base64("user:" + token)` is caught too).
 * Each maximal run of characters covered by any occurrence becomes `***`.
 */

export const MASK = '***';
const MIN_BASE64_SECRET = 4;

/**
 * Raw text not yet released; how many of its first characters are known to be secret
 * (an occurrence that began before the cut); whether the released text ended inside
 * that occurrence, already masked.
 */
export interface MaskState {
  held: string;
  covered: number;
  continued: boolean;
}

export const EMPTY_MASK_STATE: MaskState = { held: '', covered: 0, continued: false };

export class SecretMasker {
  private patterns: string[] = [];
  private firstChars = new Set<number>();

  constructor(values: Iterable<string> = []) {
    for (const value of values) this.add(value);
  }

  /** Registers one more value to mask (a derived credential, for instance). */
  add(value: string): void {
    const forms = new Set(this.patterns);
    if (value.length > 0) forms.add(value);
    if (value.length >= MIN_BASE64_SECRET) for (const form of base64Forms(value)) forms.add(form);
    // Longest first: a longer pattern decides a hold-back before a shorter one does.
    this.patterns = [...forms].sort((a, b) => b.length - a.length);
    this.firstChars = new Set(this.patterns.map((p) => p.charCodeAt(0)));
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** Masks a complete text (a result message, a last line). */
  mask(text: string): string {
    return this.release(EMPTY_MASK_STATE, text, true).out;
  }

  /**
   * Streaming form: appends `text` to what was held back and returns what can safely
   * leave now. Only a tail that could still become a secret is held back — the longest
   * suffix that is a proper prefix of some masked form — so ordinary output is never
   * delayed, and a secret split across writes is masked as if it had arrived whole.
   * With `final`, nothing is held back.
   */
  release(state: MaskState, text: string, final: boolean): { out: string; state: MaskState } {
    const raw = state.held + text;
    if (this.patterns.length === 0) return { out: raw, state: EMPTY_MASK_STATE };
    const holdAt = final ? raw.length : this.holdBackStart(raw);
    const covered = this.coverage(raw, state.covered);
    let out = '';
    let i = 0;
    while (i < holdAt) {
      if (covered[i]) {
        // One run of secret text is one mask, even when it was released in two parts.
        if (i > 0 || !state.continued) out += MASK;
        while (i < holdAt && covered[i]) i++;
      } else {
        const start = i;
        while (i < holdAt && !covered[i]) i++;
        out += raw.slice(start, i);
      }
    }
    // An occurrence that began before the cut keeps covering the held text.
    let carry = 0;
    while (holdAt + carry < raw.length && covered[holdAt + carry]) carry++;
    const continued = carry > 0 && (holdAt > 0 ? covered[holdAt - 1] === 1 : state.continued);
    return { out, state: { held: raw.slice(holdAt), covered: carry, continued } };
  }

  private holdBackStart(raw: string): number {
    const longest = this.patterns[0]?.length ?? 0;
    for (let j = Math.max(0, raw.length - longest + 1); j < raw.length; j++) {
      if (!this.firstChars.has(raw.charCodeAt(j))) continue;
      const tail = raw.slice(j);
      if (this.patterns.some((p) => p.length > tail.length && p.startsWith(tail))) return j;
    }
    return raw.length;
  }

  private coverage(raw: string, coveredPrefix: number): Uint8Array {
    const covered = new Uint8Array(raw.length);
    covered.fill(1, 0, Math.min(coveredPrefix, raw.length));
    for (const p of this.patterns) {
      for (let j = raw.indexOf(p); j !== -1; j = raw.indexOf(p, j + 1)) covered.fill(1, j, j + p.length);
    }
    return covered;
  }
}

/**
 * The base64 characters that depend only on `value`, for each alignment (0, 1 or 2
 * bytes before it): characters mixing in neighbouring bytes are left out.
 */
function base64Forms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const forms: string[] = [Buffer.from(bytes).toString('base64')];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    const first = Math.ceil((offset * 8) / 6);
    const last = Math.floor(((offset + bytes.length) * 8) / 6);
    const core = encoded.slice(first, last);
    if (core.length >= MIN_BASE64_SECRET) forms.push(core);
  }
  return forms;
}
