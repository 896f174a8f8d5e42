// Preloaded (with node --expose-gc) into the service bench/micro/fanout.ts probes. SIGUSR2: a full
// collection, then one line with process.memoryUsage() and, with FANOUT_SNAPSHOTS=<dir>, the file of a
// heap snapshot written after it. SIGWINCH: starts the CPU profiler, and the next one stops it and writes
// the profile to FANOUT_PROFILES=<dir> (default /tmp), so a profile covers the rounds of changes only.
import { writeFileSync } from 'node:fs';
import inspector from 'node:inspector';
import v8 from 'node:v8';

process.on('SIGUSR2', () => {
  globalThis.gc?.();
  const memory = process.memoryUsage();
  const dir = process.env.FANOUT_SNAPSHOTS;
  const snapshot = dir ? v8.writeHeapSnapshot(`${dir}/fanout-${Date.now()}.heapsnapshot`) : null;
  console.log(JSON.stringify({ msg: 'probed', memory, snapshot }));
});

let session = null;
process.on('SIGWINCH', () => {
  if (!session) {
    session = new inspector.Session();
    session.connect();
    session.post('Profiler.enable', () => session.post('Profiler.start', () => console.log(JSON.stringify({ msg: 'profiling' }))));
    return;
  }
  session.post('Profiler.stop', (error, result) => {
    const file = `${process.env.FANOUT_PROFILES ?? '/tmp'}/fanout-${Date.now()}.cpuprofile`;
    if (!error) writeFileSync(file, JSON.stringify(result.profile));
    session.disconnect();
    session = null;
    console.log(JSON.stringify({ msg: 'profiled', file: error ? null : file }));
  });
});
