'use strict';
// Preloaded into gateways by scripts/sim/federation-sim.js when SIM_MEM_PROBE=1
// (node --expose-gc -r scripts/sim/mem-probe.js): answers {type: 'sim:mem'} IPC messages with
// process.memoryUsage() and V8 heap-space figures, optionally after a full GC. Changes nothing else:
// the IPC channel is unref'd again so it never keeps a stopping gateway alive.
const v8 = require('node:v8');

if (process.send) {
  process.on('message', (m) => {
    if (!m || m.type !== 'sim:mem') return;
    const before = process.memoryUsage();
    let after = null;
    if (m.gc && typeof global.gc === 'function') {
      global.gc();
      after = process.memoryUsage();
    }
    const spaces = {};
    for (const s of v8.getHeapSpaceStatistics()) spaces[s.space_name] = { size: s.space_size, used: s.space_used_size };
    const h = v8.getHeapStatistics();
    process.send({
      type: 'sim:mem',
      id: m.id,
      before,
      after,
      spaces,
      heap: { mallocedMemory: h.malloced_memory, peakMallocedMemory: h.peak_malloced_memory, externalMemory: h.external_memory, numberOfNativeContexts: h.number_of_native_contexts },
      handles: { active: process._getActiveHandles().length, requests: process._getActiveRequests().length },
    });
  });
  process.channel?.unref();
}
