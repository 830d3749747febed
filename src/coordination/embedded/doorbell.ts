import { closeSync, openSync, watch, writeSync, type FSWatcher } from 'node:fs';

/**
 * Cross-process "something changed" signal for processes sharing one SQLite file.
 * After a commit that makes work claimable, a process writes one byte to `<db>.bell`;
 * the others `fs.watch` it (inotify: ~0.1 ms, see shared/notes/sqlite-embedded.md).
 * inotify merges events, so a ring is a hint to re-check, never a count. A slow poll of
 * `PRAGMA data_version` is the safety net for anything the watch misses.
 */
export class Doorbell {
  private readonly fd: number;
  private readonly watcher: FSWatcher;
  private readonly listeners = new Set<() => void>();
  private readonly byte = Buffer.from([1]);

  constructor(private readonly path: string) {
    this.fd = openSync(path, 'a+');
    this.watcher = watch(path, { persistent: false }, () => this.emit());
    this.watcher.on('error', () => {
      // The safety-net poll keeps waking listeners; nothing else to do here.
    });
  }

  ring(): void {
    writeSync(this.fd, this.byte, 0, 1, 0);
    this.emit();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(): void {
    for (const listener of this.listeners) listener();
  }

  close(): void {
    this.watcher.close();
    closeSync(this.fd);
    this.listeners.clear();
  }
}
