import { status } from '@grpc/grpc-js';
import { GetJwksPayload } from '@tongban/proto';
import { FakePeer, Gateway, RawResult, call, demoLicence, startFederation, verificationBody } from '@tongban/testkit';
import type { AuditBody, AuditRow } from './support/bodies';
import { waitFor } from './support/wait';

// A holder of a real federation certificate (here 河北's) floods 北京 with envelopes that fail
// before any signature is verified. 北京 spends a small refusal budget per TLS peer, then
// refuses that peer with TOO_MANY_REFUSALS before doing any work, writes a bounded number of
// audit rows (one per (TLS peer, RPC, code) and window, plus one aggregate with the count), counts
// every refusal in its metrics, and keeps answering 广东's legitimate calls (docs/operations.md §10.5).
const BJ = '110000';
const HB = '130000';
const GD = '440000';
const STORM = 300;
const WINDOW_S = 3;

let gws: Record<string, Gateway>;
const audit = async (event: string, after = 0) => (await call<AuditBody>(gws[BJ], 'GET', `/admin/audit?event=${event}&limit=1000&after=${after}`, undefined, gws[BJ].adminToken)).body.events;
const countOf = (row: AuditRow) => Number((typeof row.details === 'string' ? (JSON.parse(row.details) as { count: number }) : (row.details as { count: number })).count);
const refusalMetrics = async () => {
  const text = await (await fetch(`${gws[BJ].baseUrl}/metrics`)).text();
  return Object.fromEntries([...text.matchAll(/^tongban_refusals_total\{reason="([A-Z_]+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])])) as Record<string, number>;
};

beforeAll(async () => {
  const env = { TONGBAN_REFUSAL_RATE_PER_S: '1', TONGBAN_REFUSAL_BURST: '10', TONGBAN_REFUSAL_AUDIT_WINDOW_S: String(WINDOW_S) };
  gws = Object.fromEntries((await startFederation([BJ, HB, GD], { env })).map((g) => [g.code, g]));
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
});

it('a storm of unsigned and garbage requests from a real peer certificate writes a bounded number of audit rows; other peers are served', async () => {
  const forger = await FakePeer.create(HB); // a key 北京 does not trust for 河北
  const payload = GetJwksPayload.encode({}).finish();
  const kinds = [
    () => ({ jws: 'garbage.garbage.garbage', payload: Buffer.from(payload) }), // MALFORMED_ENVELOPE
    () => forger.craft({ aud: BJ, mty: 'tongban.federation.v1.GetJwksPayload', payload, signature: 'none' }), // UNKNOWN_KEY
    () => forger.craft({ aud: BJ, mty: 'tongban.federation.v1.GetJwksPayload', payload, claims: { iss: String(100000 + Math.floor(Math.random() * 899999)) } }), // TLS_IDENTITY_MISMATCH, a new claimed sender each time
  ];
  const seqBefore = Math.max(0, ...(await audit('federation.request.refused')).map((e) => e.seq), ...(await audit('federation.request.refused.aggregated')).map((e) => e.seq));
  const metricsBefore = await refusalMetrics();

  // 广东 keeps verifying 北京 licences throughout.
  let storming = true;
  const legit: number[] = [];
  const traffic = (async () => {
    while (storming) legit.push((await call(gws[GD], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')))).status);
  })();
  const results: RawResult[] = [];
  for (let i = 0; i < STORM; i += 20) {
    results.push(...(await Promise.all(Array.from({ length: Math.min(20, STORM - i) }, (_, j) => FakePeer.send(gws[BJ].grpcEndpoint, 'getJwks', kinds[(i + j) % kinds.length](), HB)))));
  }
  storming = false;
  await traffic;

  // Nothing got through; most were cut off before any verification.
  expect(results.filter((r) => r.code === undefined)).toEqual([]);
  const throttled = results.filter((r) => r.refusal === 'TOO_MANY_REFUSALS');
  expect(throttled.every((r) => r.code === status.RESOURCE_EXHAUSTED && /^TOO_MANY_REFUSALS: /.test(r.details ?? ''))).toBe(true);
  expect(throttled.length).toBeGreaterThan(STORM / 2);
  const byCode = results.reduce<Record<string, number>>((m, r) => ((m[r.refusal!] = (m[r.refusal!] ?? 0) + 1), m), {});
  expect(Object.keys(byCode).sort()).toEqual(['MALFORMED_ENVELOPE', 'TLS_IDENTITY_MISMATCH', 'TOO_MANY_REFUSALS', 'UNKNOWN_KEY']);

  // Legitimate traffic from another peer was served all along.
  expect(legit.length).toBeGreaterThan(0);
  expect(legit.filter((s) => s !== 200)).toEqual([]);

  // Every refusal is in the metrics.
  const metricsAfter = await refusalMetrics();
  for (const [code, n] of Object.entries(byCode)) expect((metricsAfter[code] ?? 0) - (metricsBefore[code] ?? 0)).toBe(n);

  // The audit trail: once the windows close, each refusal is either a row of its own or counted in
  // an aggregate row of 河北's TLS identity, and the number of rows stays small.
  const { own, aggregated } = await waitFor(
    'the aggregate rows of the storm',
    async () => ({ own: await audit('federation.request.refused', seqBefore), aggregated: await audit('federation.request.refused.aggregated', seqBefore) }),
    (a) => a.own.length + a.aggregated.reduce((n, r) => n + countOf(r), 0) === STORM,
    (WINDOW_S + 10) * 1000,
  );
  expect(own.length + aggregated.length).toBeLessThanOrEqual(40);
  expect(aggregated.every((r) => r.actor === `tls:${HB}` && r.subject === 'GetJwks')).toBe(true);
  expect(aggregated.filter((r) => r.reason === 'TOO_MANY_REFUSALS').reduce((n, r) => n + countOf(r), 0)).toBe(throttled.length);
  expect(own.map((r) => r.reason)).not.toContain('TOO_MANY_REFUSALS');

  // The budget refills: 河北's own legitimate calls are heard again.
  await waitFor(
    '河北 is heard again',
    () => call(gws[HB], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID'))),
    (r) => r.status === 200,
  );
});
