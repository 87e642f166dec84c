'use strict';
// PostgreSQL for the scripts (benchmarks, `npm run image:test`): one short connection per piece of
// work. `pg` is loaded on first use, so scripts that never touch PostgreSQL do not need it.

/**
 * Connects to `url`, runs `fn(client)` and always closes the connection; resolves with fn's result.
 * @template T
 * @param {string} url a postgres:// connection string
 * @param {(client: import('pg').Client) => Promise<T>} fn
 * @returns {Promise<T>}
 */
async function withPg(url, fn) {
  const { Client } = require('pg');
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

module.exports = { withPg };
