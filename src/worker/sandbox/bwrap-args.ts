import { isAbsolute, posix, relative, sep } from 'node:path';
import type { SandboxCommand, SandboxLimits } from './sandbox.js';

/** Where the workspace appears inside the sandbox. */
export const WORKSPACE_MOUNT = '/workspace';
/** The user the command is inside the sandbox: nobody, whatever it maps to outside. */
export const INSIDE_ID = 65534;
const HOME = '/tmp/home';

/** The top-level system directories, bound read-only when the host has them (merged /usr or not). */
const SYSTEM_DIRS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/**
 * The only files of /etc the sandbox sees: users and groups (no password hashes), name
 * resolution, TLS roots, the dynamic linker cache, time zone and the Debian alternatives
 * (`awk`, `editor`... are links into /etc/alternatives). Nothing a worker configures for
 * itself (npmrc, gitconfig, ssh, credentials) is among them.
 */
export const ETC_FILES = [
  '/etc/passwd',
  '/etc/group',
  '/etc/nsswitch.conf',
  '/etc/hosts',
  '/etc/host.conf',
  '/etc/resolv.conf',
  '/etc/gai.conf',
  '/etc/services',
  '/etc/protocols',
  '/etc/ssl/certs',
  '/etc/ssl/openssl.cnf',
  '/etc/ld.so.cache',
  '/etc/localtime',
  '/etc/alternatives',
  '/etc/os-release',
];

const DEFAULT_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME,
  TMPDIR: '/tmp',
  LANG: 'C.UTF-8',
};

export interface Invocation {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/** The workspace-relative `cwd` as a path inside the sandbox. */
export function insidePath(workspace: string, path: string): string {
  const rel = relative(workspace, path);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new Error(`${path} is not inside the workspace ${workspace}`);
  }
  return rel === '' ? WORKSPACE_MOUNT : posix.join(WORKSPACE_MOUNT, ...rel.split(sep));
}

/**
 * Turns a command into a bubblewrap invocation. bwrap builds an empty root, mounts what
 * is listed here and nothing else, then runs `prlimit` with the limits, which runs the
 * command (limits set inside the user namespace count that sandbox's processes only). The namespaces: its own user namespace (mapped to nobody inside, no
 * capabilities, no nested user namespaces), PIDs (the worker and other steps are
 * invisible; everything dies with the sandbox), IPC, UTS, cgroup, and the network when
 * `network` is false. The environment is the command's env over a few defaults: bwrap
 * passes its own on, and neither the worker's variables nor secrets ever go into argv.
 */
export function bwrapInvocation(cmd: SandboxCommand, limits: SandboxLimits, bwrap = 'bwrap'): Invocation {
  const id = String(INSIDE_ID);
  const tmpSize = String(limits.tmpBytes);
  const args = [
    '--unshare-user', '--disable-userns', '--uid', id, '--gid', id,
    '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--hostname', 'distci-sandbox', '--unshare-cgroup-try',
    ...(cmd.network ? [] : ['--unshare-net']),
    '--die-with-parent', '--new-session',
    '--ro-bind', '/usr', '/usr',
    ...SYSTEM_DIRS.flatMap((dir) => ['--ro-bind-try', dir, dir]),
    ...ETC_FILES.flatMap((file) => ['--ro-bind-try', file, file]),
    '--proc', '/proc',
    '--dev', '/dev',
    '--size', tmpSize, '--tmpfs', '/dev/shm',
    '--remount-ro', '/dev',
    '--size', tmpSize, '--tmpfs', '/tmp',
    '--dir', HOME,
    '--bind', cmd.workspace, WORKSPACE_MOUNT,
    '--remount-ro', '/',
    '--chdir', insidePath(cmd.workspace, cmd.cwd),
    '--',
    '/usr/bin/prlimit', `--as=${limits.memoryBytes}`, `--nproc=${limits.processes}`, '--core=0', '--',
    cmd.command, ...cmd.args,
  ];
  return { command: bwrap, args, env: { ...DEFAULT_ENV, ...cmd.env } };
}
