import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const OID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/**
 * The commit HEAD points at in a fresh clone's `.git` directory, read from the files git
 * wrote (HEAD, then the loose ref or `packed-refs`), so a checkout costs no extra
 * `git rev-parse` process. Null for anything else (a `.git` file, the reftable format, a
 * symbolic ref chain): the caller then asks git.
 */
export async function readHead(worktree: string): Promise<string | null> {
  const gitDir = join(worktree, '.git');
  const head = (await read(join(gitDir, 'HEAD')))?.trim();
  if (head === undefined) return null;
  if (OID.test(head)) return head;
  const m = /^ref: (refs\/heads\/[^\0\s]+)$/.exec(head);
  if (!m || m[1]!.split('/').includes('..')) return null;
  const ref = m[1]!;
  const loose = (await read(join(gitDir, ...ref.split('/'))))?.trim();
  if (loose !== undefined) return OID.test(loose) ? loose : null;
  const packed = await read(join(gitDir, 'packed-refs'));
  for (const line of packed?.split('\n') ?? []) {
    const [oid, name] = line.split(' ');
    if (name === ref && oid !== undefined && OID.test(oid)) return oid;
  }
  return null;
}

async function read(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}
