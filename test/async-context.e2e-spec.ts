import path from 'node:path';
import { Gateway, call, demoLicences, startFederation, verificationBody } from '@tongban/testkit';
import { waitFor } from './support/wait';

// No AsyncLocalStorage on the verification path (issue 10): in Node 20 one entered store keeps
// promise hooks on for the whole process, a cost on every promise of both gateways. A preload
// reports every entry; serving verifications, as asker (HTTP) and as issuer (gRPC), must cause none.
const BJ = '110000';
const GD = '440000';
const MARK = 'ASYNC-CONTEXT-ENTERED';
const PROBE = path.join(__dirname, 'support', 'async-context-probe.js');

let gws: Record<string, Gateway>;

beforeAll(async () => {
  const list = await startFederation([BJ, GD], { env: { NODE_OPTIONS: `--require ${PROBE}` } });
  gws = Object.fromEntries(list.map((g) => [g.code, g]));
}, 90_000);

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
});

const entries = (out: string) => out.split('\n').filter((l) => l.startsWith(MARK));

it('the probe sees a store entered: a request that may store is counted (confirmed writes)', async () => {
  const before = entries(gws[GD].output()).length;
  expect((await call(gws[GD], 'GET', '/admin/peers', undefined, gws[GD].adminToken)).status).toBe(200);
  // The probe's line arrives on the gateway's stderr, which this process may read after the answer.
  await waitFor(
    'the probe line',
    async () => entries(gws[GD].output()).length,
    (n) => n > before,
  );
});

it('the case and task routes enter no AsyncLocalStorage (one transaction each, or reads)', async () => {
  const start = gws[BJ].output().length;
  // The decision is the matched route's (onRequest): refused bodies go through it like accepted ones.
  expect((await call(gws[BJ], 'GET', '/v1/cases?limit=1', undefined, gws[BJ].apiToken)).status).toBe(200);
  expect((await call(gws[BJ], 'GET', '/v1/tasks?limit=1', undefined, gws[BJ].apiToken)).status).toBe(200);
  expect((await call(gws[BJ], 'GET', '/v1/cases/no-such-case', undefined, gws[BJ].apiToken)).status).toBe(404);
  expect((await call(gws[BJ], 'POST', '/v1/cases', {}, gws[BJ].apiToken)).status).toBe(400);
  expect((await call(gws[BJ], 'POST', '/v1/tasks/110000-20261204-0000000000~0/complete', { outputs: {} }, gws[BJ].apiToken)).status).toBe(404);
  expect(entries(gws[BJ].output().slice(start))).toEqual([]);
});

it('serving verifications enters no AsyncLocalStorage at the asker nor at the issuer', async () => {
  const start = { [BJ]: gws[BJ].output().length, [GD]: gws[GD].output().length };
  const body = verificationBody(demoLicences(BJ)[0]);
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${gws[GD].baseUrl}/v1/verifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gws[GD].apiToken}` },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
  }
  const batch = await fetch(`${gws[GD].baseUrl}/v1/verifications/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${gws[GD].apiToken}` },
    body: JSON.stringify({ items: [body, body] }),
  });
  expect(batch.status).toBe(200);
  expect(entries(gws[GD].output().slice(start[GD]))).toEqual([]);
  expect(entries(gws[BJ].output().slice(start[BJ]))).toEqual([]);
});
