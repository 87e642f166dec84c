import { status } from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { MaterialHeader, MaterialReceiptPayload } from '@tongban/proto';
import { FakePeer, Gateway, call, startFederation, startGateway } from '@tongban/testkit';
import { chunked, pushMaterial } from '../libs/testkit/src/fake-peer-stream';
import type { CaseFileView } from '@tongban/cases';
import type { TransferView } from '@tongban/materials';
import type { AuditBody, CaseBody, ErrorBody } from './support/bodies';
import { waitFor } from './support/wait';

// Case materials between real gateways: uploaded at the accepting gateway (广东), streamed with the
// signed PushMaterial RPC to the province whose step needs them (北京), downloaded there byte for byte.
// Scripted parties play the hostile pushers: one holding 广东's certificate and a key 北京 trusts
// for 广东 (the accepting gateway itself misbehaving), and 天津 (120000), which takes no part.
const BJ = '110000';
const HB = '130000';
const GD = '440000';
const TJ = '120000';
const FAST = { TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50', TONGBAN_DELIVERY_BACKOFF_CAP_MS: '400', TONGBAN_DELIVERY_POLL_MS: '100' };
const MATERIAL_HEADER = 'tongban.federation.v1.MaterialHeader';

let gws: Record<string, Gateway>;

const applicant = { name: '张三', idNumber: '11010519491231002X' };
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function noCriminalRecord(receiving: string, home: string) {
  return {
    itemCode: 'NO_CRIMINAL_RECORD',
    applicant,
    participants: { RECEIVING: receiving, HOME: home },
    materials: [{ code: 'RESIDENT_ID_CARD' }, { code: 'APPLICATION_FORM', form: 'PAPER' }],
    receivedAt: { office: '深圳市福田区政务服务中心', clerk: '李窗口', channel: 'WINDOW' },
  };
}

async function upload(gw: Gateway, id: string, code: string, body: Buffer, contentType = 'application/pdf', fileName?: string) {
  const res = await fetch(`${gw.baseUrl}/v1/cases/${encodeURIComponent(id)}/materials/${encodeURIComponent(code)}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${gw.apiToken}`, 'content-type': contentType, ...(fileName ? { 'x-file-name': fileName } : {}) },
    body,
  });
  const text = await res.text();
  // The stored file on 201, the error otherwise (each test checks the status first).
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as CaseFileView & { materialId: string } & ErrorBody };
}

async function download(gw: Gateway, id: string, materialId: string) {
  const res = await fetch(`${gw.baseUrl}/v1/cases/${encodeURIComponent(id)}/materials/${materialId}`, { headers: { authorization: `Bearer ${gw.apiToken}` } });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

const materialsAt = (gw: Gateway, id: string) => call<{ materials: CaseFileView[] }>(gw, 'GET', `/v1/cases/${encodeURIComponent(id)}/materials`);
const audit = async (gw: Gateway, event: string) => (await call<AuditBody>(gw, 'GET', `/admin/audit?event=${event}&limit=1000`, undefined, gw.adminToken)).body.events;

beforeAll(async () => {
  const list = await startFederation([BJ, HB, GD], { env: FAST });
  gws = Object.fromEntries(list.map((g) => [g.code, g]));
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
});

describe('case materials over PushMaterial (无犯罪记录证明: 广东 receives, 北京 decides)', () => {
  it('a 1.5 MB upload at 广东 reaches 北京 whole, with a signed receipt, and downloads byte for byte', async () => {
    const opened = await call<CaseBody>(gws[GD], 'POST', '/v1/cases', noCriminalRecord(GD, BJ));
    expect(opened.status).toBe(201);
    const { caseId, collaborationId } = opened.body;
    const file = randomBytes(1_536_000 + 123);
    const up = await upload(gws[GD], caseId, 'RESIDENT_ID_CARD', file, 'application/pdf', encodeURIComponent('身份证 扫描件.pdf'));
    expect(up.status).toBe(201);
    expect(up.body).toEqual({ materialId: expect.any(String), code: 'RESIDENT_ID_CARD', sha256: sha256(file), size: file.length });
    const { materialId } = up.body;

    const listed = await waitFor(
      'material at 北京',
      () => materialsAt(gws[BJ], collaborationId),
      (r) => r.status === 200 && r.body.materials.some((m) => m.id === materialId),
    );
    expect(listed.body.materials).toEqual([
      { id: materialId, code: 'RESIDENT_ID_CARD', name: '身份证 扫描件.pdf', mediaType: 'application/pdf', size: file.length, sha256: sha256(file), receivedFrom: GD, receivedAt: expect.any(String) },
    ]);
    const got = await download(gws[BJ], collaborationId, materialId);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('application/pdf');
    expect(got.headers.get('content-disposition')).toContain(`filename*=UTF-8''${encodeURIComponent('身份证 扫描件.pdf')}`);
    expect(got.bytes.length).toBe(file.length);
    expect(sha256(got.bytes)).toBe(sha256(file));
    expect(got.bytes.equals(file)).toBe(true);

    // Both case views list the file; the history says who added and who received it.
    const bj = (await call<CaseBody>(gws[BJ], 'GET', `/v1/cases/${collaborationId}`)).body;
    expect(bj.files.map((f) => [f.id, f.receivedFrom])).toEqual([[materialId, GD]]);
    expect(bj.events.some((e) => e.type === 'MATERIAL_RECEIVED' && e.details?.materialId === materialId && e.province === GD)).toBe(true);
    const gd = (await call<CaseBody>(gws[GD], 'GET', `/v1/cases/${caseId}`)).body;
    expect(gd.files.map((f) => [f.id, f.receivedFrom])).toEqual([[materialId, GD]]);
    expect(gd.events.some((e) => e.type === 'MATERIAL_ADDED' && e.details?.materialId === materialId)).toBe(true);

    // The transfer is DELIVERED with 北京's signed receipt echoing the SHA-256 and size.
    const transfers = (await call<{ transfers: TransferView[] }>(gws[GD], 'GET', '/admin/material-transfers?status=DELIVERED', undefined, gws[GD].adminToken)).body.transfers;
    const t = transfers.find((x) => x.materialId === materialId)!;
    // The push waited for the case to reach 北京 first, so it went through on the first attempt.
    expect(t).toMatchObject({ peer: BJ, status: 'DELIVERED', attempts: 0, lastError: null });
    expect((await audit(gws[BJ], 'federation.request.refused')).filter((e) => e.subject === 'PushMaterial')).toEqual([]);
    expect(t.receipt!.jws.split('.')).toHaveLength(3);
    expect(JSON.parse(Buffer.from(t.receipt!.jws.split('.')[1], 'base64url').toString())).toMatchObject({ iss: BJ, aud: GD, mty: 'tongban.federation.v1.MaterialReceiptPayload' });
    expect(MaterialReceiptPayload.decode(Buffer.from(t.receipt!.payload, 'base64'))).toEqual({ materialId, sha256: sha256(file), size: String(file.length) });
    // Only participants whose step needs materials get it; 河北 takes no part at all.
    expect(transfers.filter((x) => x.materialId === materialId)).toHaveLength(1);
    expect((await materialsAt(gws[HB], collaborationId)).status).toBe(404);

    // Bytes damaged at rest (here: one chunk rewritten behind the gateway's back) are never served.
    const db = new Database(join(gws[BJ].options.dir, `tongban-${BJ}.sqlite`));
    try {
      // A received file is stored under a key of 北京's own (material ids are unique per case and origin only).
      const { storage_id: key } = db.prepare('SELECT storage_id FROM case_materials WHERE id = ? AND origin = ?').get(materialId, GD) as { storage_id: string };
      const row = db.prepare('SELECT data FROM material_chunks WHERE material_id = ? AND idx = 1').get(key) as { data: string };
      const damaged = Buffer.from(row.data, 'base64');
      damaged[7] ^= 0xff;
      db.prepare('UPDATE material_chunks SET data = ? WHERE material_id = ? AND idx = 1').run(damaged.toString('base64'), key);
    } finally {
      db.close();
    }
    const broken = await download(gws[BJ], collaborationId, materialId);
    expect(broken.status).toBe(500);
    expect((JSON.parse(broken.bytes.toString()) as ErrorBody).error.code).toBe('INTERNAL');
    await waitFor(
      'integrity log line at 北京',
      async () => gws[BJ].output(),
      (out) => out.includes(`material ${materialId} of case`) && out.includes('fails its integrity check'),
    );
  });

  it('bad uploads: unknown material code 400 (field code), wrong content-type 400, not the accepting gateway 403, unknown material 404', async () => {
    const { collaborationId } = (await call<CaseBody>(gws[GD], 'POST', '/v1/cases', noCriminalRecord(GD, BJ))).body;
    const bad = await upload(gws[GD], collaborationId, 'HOUSEHOLD_REGISTER', randomBytes(1000));
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'code', rule: 'UNKNOWN_MATERIAL' });
    const text = await upload(gws[GD], collaborationId, 'RESIDENT_ID_CARD', Buffer.from('hello'), 'text/plain');
    expect(text.status).toBe(400);
    expect(text.body.error).toMatchObject({ field: 'content-type' });
    await waitFor(
      'case at 北京',
      () => call(gws[BJ], 'GET', `/v1/cases/${collaborationId}`),
      (r) => r.status === 200,
    );
    const notOwner = await upload(gws[BJ], collaborationId, 'RESIDENT_ID_CARD', randomBytes(1000));
    expect(notOwner.status).toBe(403);
    expect((await download(gws[GD], collaborationId, randomUUID())).status).toBe(404);
    expect((await materialsAt(gws[GD], collaborationId)).body.materials).toEqual([]);
  });

  it('a hostile push: wrong SHA-256 is refused with DATA_LOSS / MATERIAL_INTEGRITY and nothing is stored; honest pushes are idempotent', async () => {
    // Only the accepting gateway may push a case's materials, so the hostile pusher is a party with
    // 广东's certificate and a key 北京 trusts for 广东, pushing into a case 广东 accepted.
    const guangdong = await FakePeer.create(GD);
    expect((await call(gws[BJ], 'POST', `/admin/peers/${GD}/keys`, guangdong.jwk(), gws[BJ].adminToken)).status).toBe(201);
    const tianjin = await FakePeer.create(TJ);
    expect((await call(gws[BJ], 'POST', '/admin/peers', { code: TJ, endpoint: '127.0.0.1:1', keys: [tianjin.jwk()] }, gws[BJ].adminToken)).status).toBe(201);
    const opened = await call<CaseBody>(gws[GD], 'POST', '/v1/cases', noCriminalRecord(GD, BJ));
    expect(opened.status).toBe(201);
    const { collaborationId } = opened.body;
    await waitFor(
      'case at 北京',
      () => call(gws[BJ], 'GET', `/v1/cases/${collaborationId}`),
      (r) => r.status === 200,
    );
    const file = randomBytes(300_000);
    const header = (o: Partial<MaterialHeader> = {}) =>
      MaterialHeader.encode({
        collaborationId,
        materialId: randomUUID(),
        name: 'RESIDENT_ID_CARD/广东重传.pdf',
        mediaType: 'application/pdf',
        size: String(file.length),
        sha256: sha256(file),
        ...o,
      }).finish();
    const push = (h: Uint8Array, chunks = chunked(file), as = guangdong) => pushMaterial(gws[BJ].grpcEndpoint, as.craft({ aud: BJ, mty: MATERIAL_HEADER, payload: h }), chunks);

    const wrong = await push(header({ sha256: sha256(randomBytes(10)) }));
    expect(wrong.code).toBe(status.DATA_LOSS);
    expect(wrong.refusal).toBe('MATERIAL_INTEGRITY');
    const tampered = chunked(file).map((c, i) => (i === 2 ? Buffer.concat([Buffer.from([c[0] ^ 1]), c.subarray(1)]) : c));
    expect((await push(header(), tampered)).refusal).toBe('MATERIAL_INTEGRITY');
    const short = await push(header(), chunked(file).slice(0, 2));
    expect([short.code, short.refusal]).toEqual([status.DATA_LOSS, 'MATERIAL_INTEGRITY']);
    const more = await push(header(), [...chunked(file), Buffer.from('extra')]);
    expect([more.code, more.refusal]).toEqual([status.RESOURCE_EXHAUSTED, 'PAYLOAD_TOO_LARGE']);
    expect((await materialsAt(gws[BJ], collaborationId)).body.materials).toEqual([]);
    const refused = (await audit(gws[BJ], 'federation.request.refused')).filter((e) => e.actor === GD && e.subject === 'PushMaterial');
    expect(refused.map((e) => e.reason)).toEqual(expect.arrayContaining(['MATERIAL_INTEGRITY', 'PAYLOAD_TOO_LARGE']));

    // 天津 takes no part in the case; a case that does not exist.
    expect((await push(header(), chunked(file), tianjin)).refusal).toBe('ITEM_NOT_ALLOWED');
    expect((await push(header({ collaborationId: '440000-20260101-0000000000' }))).refusal).toBe('OUT_OF_ORDER');

    // Honest: stored once; the same material id again gets the same receipt and stores nothing new.
    const materialId = randomUUID();
    const first = await push(header({ materialId }));
    expect(first.code).toBeUndefined();
    const receipt = MaterialReceiptPayload.decode(first.envelope!.payload);
    expect(receipt).toEqual({ materialId, sha256: sha256(file), size: String(file.length) });
    const again = await push(header({ materialId }));
    expect(again.code).toBeUndefined();
    expect(MaterialReceiptPayload.decode(again.envelope!.payload)).toEqual(receipt);
    const held = (await materialsAt(gws[BJ], collaborationId)).body.materials;
    expect(held.map((m) => [m.id, m.receivedFrom, m.name])).toEqual([[materialId, GD, '广东重传.pdf']]);
    expect((await download(gws[BJ], collaborationId, materialId)).bytes.equals(file)).toBe(true);
    const events = (await call<CaseBody>(gws[BJ], 'GET', `/v1/cases/${collaborationId}`)).body.events.filter((e) => e.type === 'MATERIAL_RECEIVED');
    expect(events).toHaveLength(1);
  });

  it('an upload above TONGBAN_MATERIAL_MAX_BYTES is refused with 413 PAYLOAD_TOO_LARGE', async () => {
    // 河北 becomes the accepting gateway of a case, restarted with a 512 KiB material limit.
    await gws[HB].stop();
    gws[HB] = await startGateway({ ...gws[HB].options, env: { ...FAST, TONGBAN_MATERIAL_MAX_BYTES: String(512 * 1024) } });
    const { collaborationId } = (await call<CaseBody>(gws[HB], 'POST', '/v1/cases', noCriminalRecord(HB, BJ))).body;
    const tooBig = await upload(gws[HB], collaborationId, 'RESIDENT_ID_CARD', randomBytes(600 * 1024));
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect((await upload(gws[HB], collaborationId, 'RESIDENT_ID_CARD', randomBytes(512 * 1024))).status).toBe(201);
    expect((await materialsAt(gws[HB], collaborationId)).body.materials).toHaveLength(1);
  });
});
