'use strict';
// Starting child processes that report ready over IPC, and stopping those the benchmark and
// simulation scripts started.
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

/**
 * Forks `main` and resolves once it sends {type: 'ready'} over IPC, with the process, that message,
 * its recent output (last 20,000 characters) and a promise of its exit; rejects with the output when
 * it exits before.
 * @param {string} main
 * @param {{env: Record<string,string>, label: string, echo?: boolean, execArgv?: string[]}} o
 */
function forkUntilReady(main, o) {
  return new Promise((resolve, reject) => {
    const proc = childProcess.fork(main, [], { env: o.env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: o.execArgv || [] });
    let output = '';
    const keep = (chunk) => {
      output = (output + chunk.toString()).slice(-20000);
      if (o.echo) process.stdout.write(chunk);
    };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    const exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
    const onExit = (code) => reject(new Error(`${o.label} exited (${code}) before ready:\n${output}`));
    proc.once('exit', onExit);
    proc.on('message', (m) => {
      if (!m || m.type !== 'ready') return;
      proc.off('exit', onExit);
      resolve({ proc, ready: m, exited, output: () => output });
    });
  });
}

module.exports = { stopProcesses, trackForkedChildren, forkUntilReady };
