'use strict';
// Stopping child processes the benchmark and simulation scripts started.

/** SIGTERM to every live child, SIGKILL to those still running after `graceMs`; resolves when all exited. */
function stopProcesses(procs, graceMs = 5000) {
  const alive = [...procs].filter((p) => p.exitCode === null && p.signalCode === null);
  return Promise.all(
    alive.map(
      (p) =>
        new Promise((resolve) => {
          const hard = setTimeout(() => {
            try {
              p.kill('SIGKILL');
            } catch {
              // already exited
            }
          }, graceMs);
          p.once('exit', () => {
            clearTimeout(hard);
            resolve();
          });
          try {
            p.kill('SIGTERM');
          } catch {
            clearTimeout(hard);
            resolve();
          }
        }),
    ),
  );
}

module.exports = { stopProcesses };
