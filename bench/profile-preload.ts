/**
 * CPU-profiles a child process for `--profile DIR` (Node 20 refuses --cpu-prof in
 * NODE_OPTIONS, but accepts `--import`). Loaded into each frontend with
 * `NODE_OPTIONS=--import <this file>` and `DISTCI_BENCH_PROFILE_DIR=DIR`; on exit it writes
 * `DIR/<pid>.cpuprofile`, which Chrome DevTools or `node dist/bench/profile-summary.js`
 * can read. Each SIGUSR2 is a mark: what was recorded since the last mark is written to
 * `DIR/<pid>.<n>.cpuprofile` (n = 1, 2, …) and profiling starts afresh, so a benchmark
 * can cut out one measured window (`closedLoop` marks its start and end). The inspector
 * session of the main thread answers synchronously, so this works in an 'exit' listener.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.DISTCI_BENCH_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  const save = (name: string, restart: boolean): void => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(result.profile));
      if (restart) session.post('Profiler.start');
    });
  };
  let marks = 0;
  process.on('SIGUSR2', () => save(`${process.pid}.${++marks}`, true));
  process.once('exit', () => save(String(process.pid), false));
}
