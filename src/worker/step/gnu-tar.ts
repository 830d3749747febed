import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';

let probed: Promise<boolean> | undefined;

/** Whether `tar` on PATH is GNU tar (asked once per process). */
export function hasGnuTar(): Promise<boolean> {
  probed ??= new Promise((resolve) => {
    const child = spawn('tar', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('latin1')));
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0 && out.includes('GNU tar')));
  });
  return probed;
}

/**
 * The workspace archive made by GNU tar in its own process: the same plain, portable tar
 * as `packWorkspace` (GNU format for long names, owner 0, mode and mtime kept), of exactly
 * `paths` (relative, '/'-separated, parents first: a tree snapshot's entries, which leave
 * out sockets, FIFOs and devices). Names travel NUL-separated on stdin, read verbatim, so
 * no name is taken for an option. The stream ends only after tar exited 0; any other
 * exit destroys it with tar's words, so a truncated archive never looks whole. Destroying
 * the stream kills tar.
 */
export function gnuTarPack(dir: string, paths: readonly string[]): Readable {
  const args = ['--create', '--file=-', '--format=gnu', '--numeric-owner', '--owner=0', '--group=0', '--no-recursion', '--null', '--verbatim-files-from', '--files-from=-'];
  const child = spawn('tar', args, { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } });
  const out = new PassThrough();
  let stderr = '';
  let exited = false;
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-2000)));
  child.stdout.pipe(out, { end: false });
  child.stdin.on('error', () => undefined); // tar died early: its exit says why.
  // The root first, as node-tar writes it: an empty workspace is then still a readable archive.
  child.stdin.end(['.', ...paths.map((p) => `./${p}`)].join('\0') + '\0');
  child.on('error', (err) => out.destroy(new Error(`cannot start tar: ${err.message}`)));
  child.on('close', (code, signal) => {
    exited = true;
    if (code === 0) out.end();
    else out.destroy(new Error(`tar failed (${code ?? signal}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
  });
  out.on('close', () => {
    if (!exited) child.kill('SIGKILL');
  });
  return out;
}
