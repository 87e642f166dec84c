import { status } from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { createHash, createPrivateKey, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyEncryption } from '@tongban/keys';
import { MaterialHeader, MaterialReceiptPayload } from '@tongban/proto';
import { FakePeer, Gateway, ROOT, call, chunked, pushMaterial, startFederation } from '@tongban/testkit';
import { waitFor } from './support/wait';

// Only the case's accepting gateway may push its materials, and a material id is keyed per (case,
// origin). Three real gateways take part in a three-province case accepted by 广东: 北京 and 河北
// both receive its files. 河北 then misbehaves, signing with its real key (read from its own
// database, as a modified gateway would): it pushes into 广东's case (refused NOT_CASE_OWNER), and
// it squats the id of 广东's next file in a case of its own; 广东's real push still lands.
const BJ = '110000';
const HB = '130000';
const GD = '440000';
const FAST = { TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50', TONGBAN_DELIVERY_BACKOFF_CAP_MS: '400', TONGBAN_DELIVERY_POLL_MS: '100' };
const MATERIAL_HEADER = 'tongban.federation.v1.MaterialHeader';
const ITEM = 'E2E_THREE_PROVINCES';

let gws: Record<string, Gateway>;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The shipped catalogue plus an item with three roles whose steps all need the materials. */
function catalogueWithThreeRoles(): string {
  const shipped = JSON.parse(readFileSync(join(ROOT, 'data', 'catalogue.json'), 'utf8')) as { version: string; items: unknown[] };
  const step = (role: string, action: string) => ({
    role,
    action,
    name: `${role} ${action}`,
    timeLimitWorkingDays: 1,
    inputs: [],
    outputs: [],
    mayRefuse: false,
    needsApplicantId: false,
    needsMaterials: true,
  });
  shipped.version = 'e2e-three-provinces';
  shipped.items.push({
    code: ITEM,
    name: '三地联办（测试）',
    department: '测试',
    modes: ['JOINT'],
    roles: ['RECEIVING', 'HOME', 'WORK'],
    acceptingRole: 'RECEIVING',
    steps: [step('RECEIVING', 'FORMAL_REVIEW'), step('HOME', 'REVIEW'), step('WORK', 'REVIEW')],
    materials: [{ code: 'RESIDENT_ID_CARD', name: '居民身份证', required: false }],
  });
  const file = join(mkdtempSync(join(tmpdir(), 'tongban-e2e-catalogue-')), 'catalogue.json');
  writeFileSync(file, JSON.stringify(shipped));
  return file;
}

const openCase = async (accepting: string, home: string, work: string) => {
  const r = await call<{ collaborationId: string }>(gws[accepting], 'POST', '/v1/cases', {
    itemCode: ITEM,
    applicant: { name: '张三', idNumber: '11010519491231002X' },
    participants: { RECEIVING: accepting, HOME: home, WORK: work },
    materials: [],
    receivedAt: { office: '政务服务中心', clerk: '李窗口', channel: 'WINDOW' },
  });
  expect(r.status).toBe(201);
  const id = r.body.collaborationId;
  for (const code of [home, work]) {
    await waitFor(
      `case ${id} at ${code}`,
      () => call(gws[code], 'GET', `/v1/cases/${id}`),
      (x) => x.status === 200,
    );
  }
  return id;
};

interface Held {
  id: string;
  receivedFrom: string;
  sha256: string;
}
interface Transfer {
  materialId: string;
  peer: string;
  status: string;
  lastError: string | null;
  receipt: { jws: string; payload: string } | null;
}

const materialsAt = async (gw: Gateway, id: string) => (await call<{ materials: Held[] }>(gw, 'GET', `/v1/cases/${id}/materials`)).body.materials;

async function upload(gw: Gateway, id: string, body: Buffer): Promise<string> {
  const res = await fetch(`${gw.baseUrl}/v1/cases/${id}/materials/RESIDENT_ID_CARD`, { method: 'PUT', headers: { authorization: `Bearer ${gw.apiToken}`, 'content-type': 'application/pdf' }, body });
  expect(res.status).toBe(201);
  return ((await res.json()) as { materialId: string }).materialId;
}

async function download(gw: Gateway, id: string, materialId: string): Promise<Buffer> {
  const res = await fetch(`${gw.baseUrl}/v1/cases/${id}/materials/${materialId}`, { headers: { authorization: `Bearer ${gw.apiToken}` } });
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

/** A party signing with the gateway's real ACTIVE key, taken from its database with its key-encryption secret. */
async function realSigner(gw: Gateway): Promise<FakePeer> {
  const db = new Database(join(gw.options.dir, `tongban-${gw.code}.sqlite`), { readonly: true });
  try {
    const row = db.prepare("SELECT kid, private_key_enc AS enc FROM signing_keys WHERE status = 'ACTIVE'").get() as { kid: string; enc: string };
    const der = await new KeyEncryption(gw.secrets.keyEncryptionSecret).open(row.kid, row.enc);
    const signer = await FakePeer.withKey(gw.code, createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
    expect(signer.kid).toBe(row.kid);
    return signer;
  } finally {
    db.close();
  }
}

function push(signer: FakePeer, to: Gateway, h: Partial<MaterialHeader> & { collaborationId: string; materialId: string }, bytes: Buffer) {
  const header = MaterialHeader.encode({ name: 'RESIDENT_ID_CARD/河北.pdf', mediaType: 'application/pdf', size: String(bytes.length), sha256: sha256(bytes), ...h }).finish();
  return pushMaterial(to.grpcEndpoint, signer.craft({ aud: to.code, mty: MATERIAL_HEADER, payload: header }), chunked(bytes));
}

const transfer = async (gw: Gateway, materialId: string, peer: string) =>
  (await call<{ transfers: Transfer[] }>(gw, 'GET', '/admin/material-transfers?limit=1000', undefined, gw.adminToken)).body.transfers.find((t) => t.materialId === materialId && t.peer === peer);

beforeAll(async () => {
  const list = await startFederation([BJ, HB, GD], { env: { ...FAST, TONGBAN_CATALOGUE_FILE: catalogueWithThreeRoles() } });
  gws = Object.fromEntries(list.map((g) => [g.code, g]));
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
});

describe('materials come only from the case’s accepting gateway', () => {
  it('a participant that did not accept the case cannot push into it: PERMISSION_DENIED / NOT_CASE_OWNER, nothing stored, audited', async () => {
    const id = await openCase(GD, BJ, HB);
    const hebei = await realSigner(gws[HB]);
    const forged = randomBytes(70_000);
    const materialId = randomUUID();
    const r = await push(hebei, gws[BJ], { collaborationId: id, materialId }, forged);
    expect([r.code, r.refusal]).toEqual([status.PERMISSION_DENIED, 'NOT_CASE_OWNER']);
    expect(r.details).toContain(`from its accepting gateway ${GD}, not ${HB}`);
    expect(await materialsAt(gws[BJ], id)).toEqual([]);
    const refused = (
      await call<{ events: { actor: string; subject: string; reason: string }[] }>(gws[BJ], 'GET', '/admin/audit?event=federation.request.refused&limit=1000', undefined, gws[BJ].adminToken)
    ).body.events;
    expect(refused.filter((e) => e.actor === HB && e.subject === 'PushMaterial').map((e) => e.reason)).toContain('NOT_CASE_OWNER');

    // The owner's file reaches both other participants.
    const file = randomBytes(90_000);
    const real = await upload(gws[GD], id, file);
    for (const gw of [gws[BJ], gws[HB]]) {
      await waitFor(
        `material at ${gw.code}`,
        () => materialsAt(gw, id),
        (ms) => ms.some((m) => m.id === real && m.receivedFrom === GD),
      );
      expect((await download(gw, id, real)).equals(file)).toBe(true);
    }
  });

  it('squatting is impossible: 河北 takes the id of 广东’s file in its own case at 北京 first, and 广东’s push of that id still lands', async () => {
    const owned = await openCase(GD, BJ, HB);
    const squatCase = await openCase(HB, BJ, GD);
    const hebei = await realSigner(gws[HB]);

    // 北京 holds 广东's pushes back for a while (suspended), so 河北 learns the id first (it receives the file too).
    expect((await call(gws[BJ], 'PATCH', `/admin/peers/${GD}`, { status: 'SUSPENDED' }, gws[BJ].adminToken)).status).toBe(200);
    const file = randomBytes(120_000);
    const materialId = await upload(gws[GD], owned, file);
    await waitFor(
      'the file at 河北',
      () => materialsAt(gws[HB], owned),
      (ms) => ms.some((m) => m.id === materialId),
    );
    await waitFor(
      'the push to 北京 refused while suspended',
      () => transfer(gws[GD], materialId, BJ),
      (t) => t?.status === 'PENDING' && /PEER_SUSPENDED/.test(t.lastError ?? ''),
    );

    // 河北 squats the id at 北京, in a case it accepted (so the push itself is allowed).
    const squat = randomBytes(50_000);
    const taken = await push(hebei, gws[BJ], { collaborationId: squatCase, materialId }, squat);
    expect(taken.code).toBeUndefined();
    expect(MaterialReceiptPayload.decode(taken.envelope!.payload)).toEqual({ materialId, sha256: sha256(squat), size: String(squat.length) });

    // 广东's real push, retried once 北京 lets it through, is stored beside it and receipted.
    expect((await call(gws[BJ], 'PATCH', `/admin/peers/${GD}`, { status: 'ACTIVE' }, gws[BJ].adminToken)).status).toBe(200);
    const delivered = await waitFor(
      'the push to 北京 delivered',
      () => transfer(gws[GD], materialId, BJ),
      (t) => t?.status === 'DELIVERED',
    );
    expect(MaterialReceiptPayload.decode(Buffer.from(delivered!.receipt!.payload, 'base64'))).toEqual({ materialId, sha256: sha256(file), size: String(file.length) });
    expect((await materialsAt(gws[BJ], owned)).map((m) => [m.id, m.receivedFrom, m.sha256])).toEqual([[materialId, GD, sha256(file)]]);
    expect((await materialsAt(gws[BJ], squatCase)).map((m) => [m.id, m.receivedFrom, m.sha256])).toEqual([[materialId, HB, sha256(squat)]]);
    expect((await download(gws[BJ], owned, materialId)).equals(file)).toBe(true);
    expect((await download(gws[BJ], squatCase, materialId)).equals(squat)).toBe(true);
  });
});
