/**
 * Listing for the `file:` store: a lazy depth-first walk in key order that reads only the
 * directories on the way to the cursor and stops as soon as a page is full.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ListedKey, ListPage } from '../contract.js';
import { assertKey, compareKeys } from '../keys.js';
import { errnoCode } from './fs-errors.js';
import { decodeEntry, dirPath } from './layout.js';

export interface Candidate {
  key: string;
  path: string;
}

/** Entries of a directory in key order; an absent directory is an empty one. */
async function sortedEntries(dir: string, keyPrefix: string, startsWith: string) {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
  const entries = [];
  for (const name of names) {
    const entry = decodeEntry(name);
    if (entry === null || !entry.part.startsWith(startsWith)) continue;
    entries.push({ ...entry, full: keyPrefix + entry.part, path: join(dir, name) });
  }
  return entries.sort((a, b) => compareKeys(a.full, b.full));
}

function isKey(key: string): boolean {
  try {
    assertKey(key);
    return true;
  } catch {
    return false;
  }
}

/**
 * Objects under `dir` (whose keys start with `keyPrefix`), restricted to entries of this
 * directory starting with `startsWith`, after `after`, in key order.
 */
async function* walk(dir: string, keyPrefix: string, startsWith: string, after: string | null): AsyncGenerator<Candidate> {
  for (const entry of await sortedEntries(dir, keyPrefix, startsWith)) {
    const passed = after !== null && compareKeys(entry.full, after) <= 0;
    if (entry.isDir) {
      // A directory at or before the cursor can only hold later keys if the cursor is inside it.
      if (passed && !(after !== null && after.startsWith(entry.full))) continue;
      yield* walk(entry.path, entry.full, '', after);
    } else if (!passed && isKey(entry.full)) {
      yield { key: entry.full, path: entry.path };
    }
  }
}

/** Keys starting with a (valid) prefix, after the cursor, in key order. */
export function keysUnder(root: string, prefix: string, after: string | null): AsyncGenerator<Candidate> {
  const cut = prefix.lastIndexOf('/') + 1;
  const dirPrefix = prefix.slice(0, cut);
  const segments = dirPrefix === '' ? [] : dirPrefix.slice(0, -1).split('/');
  return walk(dirPath(root, segments), dirPrefix, prefix.slice(cut), after);
}

const STAT_BATCH = 64;

/** Sizes of candidates; ones deleted since they were seen are dropped. */
async function withSizes(candidates: Candidate[]): Promise<ListedKey[]> {
  const out: ListedKey[] = [];
  for (let i = 0; i < candidates.length; i += STAT_BATCH) {
    const batch = candidates.slice(i, i + STAT_BATCH);
    const sizes = await Promise.all(
      batch.map(async (c) => {
        try {
          return (await stat(c.path)).size;
        } catch (err) {
          if (errnoCode(err) === 'ENOENT') return null;
          throw err;
        }
      }),
    );
    batch.forEach((c, j) => {
      const size = sizes[j];
      if (size !== null && size !== undefined) out.push({ key: c.key, size });
    });
  }
  return out;
}

/** One page: reads one key past the limit to know whether the listing is complete. */
export async function listPage(root: string, prefix: string, after: string | null, limit: number): Promise<ListPage> {
  const found: Candidate[] = [];
  const walker = keysUnder(root, prefix, after);
  for await (const candidate of walker) {
    found.push(candidate);
    if (found.length > limit) break;
  }
  const more = found.length > limit;
  const page = found.slice(0, limit);
  const keys = await withSizes(page);
  const last = page[page.length - 1];
  return { keys, next: more && last !== undefined ? last.key : null };
}
