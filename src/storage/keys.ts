/**
 * The one place where object keys and list prefixes are checked, for every backend, so
 * that a key accepted by one store is accepted by all of them and can never escape a
 * `file:` store's directory.
 */
import { ValidationError } from '../core/errors.js';
import { MAX_LIST_LIMIT } from './contract.js';

/** S3's limit, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
/** Leaves room under the usual 255-byte file name limit for the `file:` backend's markers. */
export const MAX_SEGMENT_BYTES = 240;

// C0 controls (NUL included), DEL and C1 controls.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /\p{Cs}/u;

function shown(value: string): string {
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}..."` : text;
}

function invalid(what: string, value: string, problem: string): ValidationError {
  return new ValidationError(`${what} ${shown(value)} is invalid: ${problem}`, { field: what, value }, 'invalid_name');
}

/** Problems shared by keys and prefixes: characters and overall length. */
function checkText(what: string, value: string): void {
  if (typeof value !== 'string') throw invalid(what, String(value), 'it must be a string');
  if (CONTROL.test(value)) throw invalid(what, value, 'remove NUL and other control characters (tabs and newlines included)');
  if (value.includes('\\')) throw invalid(what, value, "use '/' to separate segments; backslashes are not allowed");
  if (LONE_SURROGATE.test(value)) throw invalid(what, value, 'it contains a lone UTF-16 surrogate; use well-formed Unicode');
  if (Buffer.byteLength(value) > MAX_KEY_BYTES) throw invalid(what, value, `shorten it to at most ${MAX_KEY_BYTES} UTF-8 bytes`);
  if (value.startsWith('/')) throw invalid(what, value, "make it relative: remove the leading '/'");
}

function checkSegment(what: string, value: string, segment: string): void {
  if (segment === '') throw invalid(what, value, "it has an empty segment: remove doubled or trailing '/'");
  if (segment === '.' || segment === '..') {
    throw invalid(what, value, `remove the '${segment}' segment: keys name objects directly, without relative steps`);
  }
  if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
    throw invalid(what, value, `shorten each segment between '/' to at most ${MAX_SEGMENT_BYTES} UTF-8 bytes`);
  }
}

/** Throws ValidationError (code invalid_name) saying what to fix unless `key` names an object. */
export function assertKey(key: string): void {
  if (key === '') throw invalid('key', key, "it is empty; name the object, e.g. 'jobs/hello/config.json'");
  checkText('key', key);
  for (const segment of key.split('/')) checkSegment('key', key, segment);
}

/**
 * Throws ValidationError unless `prefix` can start a key: every complete segment (those
 * followed by '/') is valid, and the last, partial one may be empty or anything a
 * segment may start with.
 */
export function assertPrefix(prefix: string): void {
  if (prefix === '') return;
  checkText('prefix', prefix);
  const segments = prefix.split('/');
  segments.pop();
  for (const segment of segments) checkSegment('prefix', prefix, segment);
}

/** Checks a page size and applies the default. */
export function listLimit(limit: number | undefined): number {
  if (limit === undefined) return MAX_LIST_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new ValidationError(`list limit ${String(limit)} is invalid: use a whole number from 1 to ${MAX_LIST_LIMIT}`, {
      field: 'limit',
      value: limit,
    });
  }
  return Math.min(limit, MAX_LIST_LIMIT);
}

/** Code units of surrogates stand for code points above U+FFFF: sort them after the rest of the BMP. */
function codePointRank(unit: number): number {
  return unit >= 0xd800 && unit <= 0xdfff ? unit + 0x10000 : unit;
}

/**
 * Key order: Unicode code point order, which equals the UTF-8 byte order S3 lists in.
 * (Plain `<` on JS strings compares UTF-16 units and puts emoji before U+FF5E.)
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}
