// Preloaded into a service by bench/micro/alloc.ts: on SIGUSR2 starts V8's sampling heap profiler with
// the objects that garbage collection frees kept in the profile (every allocation, or with
// ALLOC_PROMOTED=1 only what outlived the young generation: freed by a major GC, or still alive), and on
// the next SIGUSR2 writes the profile to ALLOC_OUT and says so on stdout.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';

const session = new Session();
session.connect();
const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
await post('HeapProfiler.enable');
let sampling = false;
process.on('SIGUSR2', async () => {
  if (!sampling) {
    sampling = true;
    await post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: process.env.ALLOC_PROMOTED !== '1' });
    return;
  }
  sampling = false;
  const { profile } = await post('HeapProfiler.stopSampling');
  writeFileSync(process.env.ALLOC_OUT, JSON.stringify(profile));
  console.log(JSON.stringify({ msg: 'alloc profile written' }));
});
