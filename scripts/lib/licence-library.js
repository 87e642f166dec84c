'use strict';
// Starts the STAND-IN licence library (apps/licence-library, docs/licence-library.md §6) as its own
// process, for `npm start` and the e2e tests. Plain CommonJS like federation.js.
const { randomBytes } = require('node:crypto');
const path = require('node:path');
const { forkUntilReady } = require('./processes');

const ROOT = path.resolve(__dirname, '..', '..');
const LIBRARY_MAIN = path.join(ROOT, 'dist', 'apps', 'licence-library', 'main.js');
const MAPPING_FILE = path.join(ROOT, 'deploy', 'licence-library', 'stand-in-mapping.json');

/** Fresh tokens for a stand-in: the reader's (the gateway's credential) and the library administrator's. */
function newLibraryTokens() {
  return { token: randomBytes(24).toString('base64url'), adminToken: randomBytes(24).toString('base64url') };
}

/**
 * Starts the stand-in serving `seed` (Tongban's import format) on `port` (0: any free port) and
 * resolves once it listens, or rejects with its output.
 * @param {{seed: string, token: string, adminToken: string, port?: number, state?: string, delayMs?: number, echo?: boolean}} o
 */
function startLicenceLibrary(o) {
  const env = {
    PATH: process.env.PATH || '',
    LICENCE_LIBRARY_PORT: String(o.port || 0),
    LICENCE_LIBRARY_TOKEN: o.token,
    LICENCE_LIBRARY_ADMIN_TOKEN: o.adminToken,
    LICENCE_LIBRARY_SEED: o.seed,
    ...(o.state ? { LICENCE_LIBRARY_STATE: o.state } : {}),
    ...(o.delayMs ? { LICENCE_LIBRARY_TEST_DELAY_MS: String(o.delayMs) } : {}),
  };
  return forkUntilReady(LIBRARY_MAIN, { env, label: 'stand-in licence library', echo: o.echo }).then(({ proc, ready, exited, output }) => ({
    url: `http://127.0.0.1:${ready.port}`,
    port: ready.port,
    token: o.token,
    adminToken: o.adminToken,
    proc,
    exited,
    output,
    /** Graceful stop (SIGTERM) and wait. */
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  }));
}

/** The gateway settings that make it answer from `library` with the stand-in's mapping (docs/licence-library.md §1). */
function librarySourceEnv(library) {
  return {
    TONGBAN_LICENCE_SOURCE: 'library',
    TONGBAN_LICENCE_LIBRARY_URL: library.url,
    TONGBAN_LICENCE_LIBRARY_TOKEN: library.token,
    TONGBAN_LICENCE_LIBRARY_MAPPING_FILE: MAPPING_FILE,
  };
}

module.exports = { LIBRARY_MAIN, MAPPING_FILE, newLibraryTokens, startLicenceLibrary, librarySourceEnv };
