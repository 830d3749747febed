import { execFile } from 'node:child_process';
import { chmod, stat } from 'node:fs/promises';
import { dirname, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { StepFailure } from '../step/failure.js';

const exec = promisify(execFile);

export interface HostUser {
  uid: number;
  gid: number;
}

const isWithin = (root: string, path: string): boolean => {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !rel.startsWith(sep));
};

/**
 * bwrap opens the workspace as the sandbox user, so every directory above it must let
 * that user through. Directories of the work root are the worker's: they get `o+x`
 * (traverse, not list). Above the work root nothing is changed; a directory there that
 * does not let the user through is an error saying what to change.
 */
export async function makeReachable(workRoot: string, workspace: string, user: HostUser): Promise<void> {
  for (let dir = dirname(workspace); ; dir = dirname(dir)) {
    const st = await stat(dir);
    const passes = st.uid === user.uid ? (st.mode & 0o100) !== 0 : st.gid === user.gid ? (st.mode & 0o010) !== 0 : (st.mode & 0o001) !== 0;
    if (!passes) {
      if (!isWithin(workRoot, dir)) {
        throw new StepFailure(
          'sandbox_unavailable',
          `the sandbox user (uid ${user.uid}) cannot pass through ${dir} to reach the workspace: allow it (chmod o+x ${dir}) or put the work root elsewhere`,
          'error',
        );
      }
      await chmod(dir, (st.mode & 0o7777) | 0o001);
    }
    if (dirname(dir) === dir) return;
  }
}

/**
 * Gives a tree to `user`. coreutils `chown -R -P -h` walks with directory descriptors and
 * never follows a symbolic link, so a link a script left behind (`ws/x -> /etc/shadow`)
 * changes only the link, even if something swaps directories for links mid-walk.
 */
export async function chownTree(path: string, user: HostUser): Promise<void> {
  try {
    await exec('chown', ['-R', '-P', '-h', '--', `${user.uid}:${user.gid}`, path]);
  } catch (err) {
    const said = ((err as { stderr?: string }).stderr || (err as Error).message).trim().split('\n')[0];
    throw new StepFailure('sandbox_unavailable', `cannot hand the workspace to uid ${user.uid}: ${said}`, 'error');
  }
}
