import { ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DemoLicence, Gateway, ROOT, call, connectAll, demoLicences, gatewayOptions, importDemoLicences, startGateway, verificationBody } from '@tongban/testkit';
import type { VerificationResult } from '@tongban/verification';
import type { ErrorBody } from './support/bodies';
import { waitFor } from './support/wait';

// 北京 answers from the STAND-IN licence library (apps/licence-library, its own field names, mapped by
// deploy/licence-library/stand-in-mapping.json) over HTTP, not from an imported registry: 北京's own
// registry is left EMPTY, so every VALID answer below came from the library. 广东 asks over signed gRPC
// (mutual TLS). docs/licence-library.md.
const BJ = '110000';
const GD = '440000';
const READER = randomBytes(16).toString('hex');
const ADMIN = randomBytes(16).toString('hex');
const LIBRARY_MAIN = join(ROOT, 'dist', 'apps', 'licence-library', 'main.js');

let library: ChildProcess | undefined;
let libraryUrl = '';
let gws: Record<string, Gateway>;

/** Starts the stand-in on `port` (0: any) and resolves its base URL once it listens. */
function startLibrary(port: number, delayMs = 0): Promise<string> {
  const env = {
    PATH: process.env.PATH ?? '',
    LICENCE_LIBRARY_PORT: String(port),
    LICENCE_LIBRARY_TOKEN: READER,
    LICENCE_LIBRARY_ADMIN_TOKEN: ADMIN,
    LICENCE_LIBRARY_SEED: join(ROOT, 'deploy', 'demo', `licences-${BJ}.json`),
    LICENCE_LIBRARY_TEST_DELAY_MS: String(delayMs),
  };
  const proc = fork(LIBRARY_MAIN, [], { env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  library = proc;
  return new Promise((resolve, reject) => {
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.once('exit', (code) => reject(new Error(`stand-in library exited with ${code}: ${stderr}`)));
    proc.on('message', (m: { type?: string; port?: number }) => {
      if (m.type === 'ready') resolve(`http://127.0.0.1:${m.port}`);
    });
  });
}

async function stopLibrary(): Promise<void> {
  const proc = library;
  library = undefined;
  if (!proc || proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}

const ask = (l: DemoLicence) => call<VerificationResult & ErrorBody>(gws[GD], 'POST', '/v1/verifications', verificationBody(l));
const validOnes = () => demoLicences(BJ).filter((l) => l.status === 'VALID' && (!l.validUntil || l.validUntil >= '2027-01-01'));

beforeAll(async () => {
  libraryUrl = await startLibrary(0);
  const bj = await gatewayOptions(BJ, {
    env: {
      TONGBAN_LICENCE_SOURCE: 'library',
      TONGBAN_LICENCE_LIBRARY_URL: libraryUrl,
      TONGBAN_LICENCE_LIBRARY_TOKEN: READER,
      TONGBAN_LICENCE_LIBRARY_MAPPING_FILE: join(ROOT, 'deploy', 'licence-library', 'stand-in-mapping.json'),
      TONGBAN_LICENCE_LIBRARY_TIMEOUT_MS: '1000',
      TONGBAN_LICENCE_LIBRARY_FEED_POLL_MS: '200',
      // A high threshold: each failure below is the library's own (timeout, refused), not an open breaker.
      TONGBAN_LICENCE_LIBRARY_BREAKER_FAILURES: '100',
    },
  });
  const gd = await gatewayOptions(GD);
  await importDemoLicences(gd); // 北京's registry stays empty on purpose
  const list = await Promise.all([startGateway(bj), startGateway(gd)]);
  await connectAll(list);
  gws = Object.fromEntries(list.map((g) => [g.code, g]));
}, 90_000);

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
  await stopLibrary();
});

it('a licence that exists only in the library is verified VALID across provinces, with an attestation', async () => {
  const l = validOnes()[0];
  const r = await ask(l);
  expect(r.status).toBe(200);
  expect(r.body.status).toBe('VALID');
  expect(r.body.attestation).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
});

it("a status change made in the library reaches 北京's status (the change feed) and the next answer", async () => {
  const l = validOnes()[1];
  expect((await ask(l)).body.status).toBe('VALID');
  const changed = await fetch(`${libraryUrl}/admin/zz/${encodeURIComponent(l.licenceId)}/status`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ZZZT: '中止', BGYY: '年检未通过' }),
  });
  expect(changed.status).toBe(200);
  const status = await waitFor(
    "北京's status of the licence follows the library's feed",
    () => call<{ status: string; version: number }>(gws[BJ], 'GET', `/admin/licences/${encodeURIComponent(l.licenceId)}/status`, undefined, gws[BJ].adminToken).then((x) => x.body),
    (s) => s?.status === 'SUSPENDED',
  );
  expect(status.version).toBeGreaterThanOrEqual(1);
  expect((await ask(l)).body.status).toBe('SUSPENDED');
});

it('library slow → ISSUER_SOURCE_UNAVAILABLE inside the deadline (never VALID); library down → the same', async () => {
  const port = Number(new URL(libraryUrl).port);
  await stopLibrary();
  // Slow: every lookup answers 2.5 s late, past 北京's 1 s library timeout but inside 广东's 3 s deadline.
  await startLibrary(port, 2500);
  const slow = await ask(validOnes()[2]); // not cached by 北京
  expect(slow.status).toBe(503);
  expect(slow.body.error.code).toBe('ISSUER_SOURCE_UNAVAILABLE');
  await stopLibrary();
  // Down: nothing listens.
  const down = await ask(validOnes()[3]);
  expect(down.status).toBe(503);
  expect(down.body.error.code).toBe('ISSUER_SOURCE_UNAVAILABLE');
});
