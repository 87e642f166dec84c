// Runs once before jest: decides whether the PostgreSQL variants of the integration suites run.
// In CI (CI=true) an unreachable PostgreSQL fails the run; elsewhere they are skipped, loudly.
const { Client } = require('pg');

module.exports = async () => {
  const url = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    process.env.TEST_PG_AVAILABLE = '1';
  } catch (e) {
    if (process.env.CI) throw new Error(`PostgreSQL at ${url} is required in CI: ${e.message}`);
    process.env.TEST_PG_AVAILABLE = '0';
    process.stderr.write(`\n!!! PostgreSQL at ${url} is not reachable: every PostgreSQL integration suite is SKIPPED !!!\n\n`);
  } finally {
    await client.end().catch(() => undefined);
  }
};
