/**
 * How keys map to paths in a `file:` store. An object store lets `builds/7` and
 * `builds/7/console` coexist; a file system cannot have a file and a directory of the
 * same name, so the two live in different names:
 *
 * - object `a/b/c`      → file `ROOT/a%2F/b%2F/c`  (each prefix segment is a directory
 *                          named after the segment plus `%2F`, the URL escape of '/')
 * - `%` in a segment    → `%25`, and a leading `.` → `%2E`, so that an encoded object
 *                          name never ends with `%2F` and never starts with `.`
 * - in-progress writes  → `.tmp-<uuid>` next to their target; every name starting with
 *                          `.` (temp files, NFS `.nfsXXXX` silly renames, editor
 *                          droppings) is invisible to the store
 *
 * Sorting directory entries by their decoded name, with '/' appended for directories,
 * yields keys in key order, which lets `list` walk the tree lazily.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

const DIR_MARK = '%2F';
const TEMP_PREFIX = '.tmp-';

export function encodeSegment(segment: string): string {
  const escaped = segment.replaceAll('%', '%25');
  return escaped.startsWith('.') ? `%2E${escaped.slice(1)}` : escaped;
}

/** Decodes one encoded segment, or returns null for a name this store did not write. */
function decodeSegment(name: string): string | null {
  let rest = name;
  let head = '';
  if (rest.startsWith('%2E')) {
    head = '.';
    rest = rest.slice(3);
  }
  if (/%(?!25)/.test(rest)) return null;
  return head + rest.replaceAll('%25', '%');
}

export interface DirEntry {
  /** The entry's file name on disk. */
  name: string;
  /** What the entry adds to its parent's key prefix: `seg` for an object, `seg/` for a directory. */
  part: string;
  isDir: boolean;
}

/** Classifies a directory entry by name alone (no stat): object, key directory, or foreign (null). */
export function decodeEntry(name: string): DirEntry | null {
  if (name.startsWith('.') || name === '') return null;
  const isDir = name.endsWith(DIR_MARK);
  const segment = decodeSegment(isDir ? name.slice(0, -DIR_MARK.length) : name);
  if (segment === null || segment === '') return null;
  return { name, part: isDir ? `${segment}/` : segment, isDir };
}

/** Directory that holds objects whose key starts with `segments.join('/') + '/'`. */
export function dirPath(root: string, segments: readonly string[]): string {
  return join(root, ...segments.map((s) => encodeSegment(s) + DIR_MARK));
}

export interface ObjectPath {
  dir: string;
  file: string;
}

/** Where the object of a (valid) key lives. */
export function objectPath(root: string, key: string): ObjectPath {
  const segments = key.split('/');
  const last = segments.pop() ?? key;
  const dir = dirPath(root, segments);
  return { dir, file: join(dir, encodeSegment(last)) };
}

/** A fresh temp file name in `dir`; unique across processes and machines sharing the directory. */
export function tempPath(dir: string): string {
  return join(dir, `${TEMP_PREFIX}${randomUUID()}`);
}
