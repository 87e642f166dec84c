'use strict';
// Stopping child processes the benchmark and simulation scripts started.
const childProcess = require('node:child_process');

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

/**
 * Wraps child_process.fork so every process forked from now on is kept in the returned set until it
 * exits (for stopProcesses at cleanup). Call it before requiring a module that destructures `fork`.
 */
function trackForkedChildren() {
  const children = new Set();
  const realFork = childProcess.fork;
  childProcess.fork = function trackedFork(...args) {
    const proc = realFork.apply(this, args);
    children.add(proc);
    proc.once('exit', () => children.delete(proc));
    return proc;
  };
  return children;
}

module.exports = { stopProcesses, trackForkedChildren };
