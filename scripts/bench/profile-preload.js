'use strict';
// Preloaded (`node -r`) into a gateway by verify-bench.js when BENCH_PROFILE=1, via startGateway's
// execArgv. It profiles only a chosen window: the parent sends {type:'bench:profile:start'} and
// {type:'bench:profile:stop', file}; the V8 CPU profile is written to `file` and acknowledged with
// {type:'bench:profile:written', file}. (--cpu-prof alone would profile boot too, and the gateway
// re-raises SIGTERM after its shutdown hooks, so an at-exit profile would never be written.)
// With `heap: true` in the start message it also samples allocations over the same window,
// including objects the GC has already collected (what makes GC work, not what stays), and writes
// them beside the CPU profile as .heapprofile (read it with heapprofile-parts.js).
const inspector = require('node:inspector');
const fs = require('node:fs');

let session;
/** Whether this window also samples allocations (the start message's `heap`). */
let heap = false;

function post(method, params) {
  return new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
}

process.on('message', async (m) => {
  if (!m || typeof m.type !== 'string' || !m.type.startsWith('bench:profile:')) return;
  try {
    if (m.type === 'bench:profile:start') {
      session = new inspector.Session();
      session.connect();
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: m.intervalUs || 200 });
      await post('Profiler.start');
      heap = m.heap === true;
      if (heap) {
        await post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
      }
      process.send({ type: 'bench:profile:started' });
    } else if (m.type === 'bench:profile:stop' && session) {
      const { profile } = await post('Profiler.stop');
      fs.writeFileSync(m.file, JSON.stringify(profile));
      if (heap) fs.writeFileSync(m.file.replace(/\.cpuprofile$/, '.heapprofile'), JSON.stringify((await post('HeapProfiler.stopSampling')).profile));
      session.disconnect();
      session = undefined;
      process.send({ type: 'bench:profile:written', file: m.file });
    }
  } catch (e) {
    process.send({ type: 'bench:profile:error', message: String(e?.message ?? e) });
  }
});
// Do not let the IPC listener keep the process alive on its own.
process.channel?.unref();
