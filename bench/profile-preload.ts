/**
 * CPU-profiles a child process for `--profile DIR` (Node 20 refuses --cpu-prof in
 * NODE_OPTIONS, but accepts `--import`). Loaded into each frontend with
 * `NODE_OPTIONS=--import <this file>` and `DISTCI_BENCH_PROFILE_DIR=DIR`; on exit it writes
 * `DIR/<pid>.cpuprofile`, which Chrome DevTools or `node dist/bench/profile-summary.js`
 * can read. The inspector session of the main thread answers synchronously, so this
 * works in an 'exit' listener.
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
  process.once('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
