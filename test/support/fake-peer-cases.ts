import { DeliveryPayload, DeliveryReceiptPayload } from '@tongban/proto';
import { FakePeer, Gateway, call, startFederation } from '@tongban/testkit';
import type { CaseBody } from './bodies';

// A case between a real gateway (the accepting one) and a FakePeer that takes the origin's part, and
// case messages the fake peer crafts: for suites that test what a receiver does with a peer's message.

/** One real gateway `code` that trusts a FakePeer `peerCode` (no endpoint: the gateway never calls it). Stop the gateway after. */
export async function gatewayWithFakePeer(code: string, peerCode: string): Promise<{ gw: Gateway; peer: FakePeer }> {
  const [gw] = await startFederation([code]);
  const peer = await FakePeer.create(peerCode);
  expect((await call(gw, 'POST', '/admin/peers', { code: peerCode, endpoint: '127.0.0.1:1', keys: [peer.jwk()] }, gw.adminToken)).status).toBe(201);
  return { gw, peer };
}

/** The claims of a delivery receipt (`sta` ACCEPTED or REJECTED, `rsn`, `seq`). */
export type ReceiptClaims = { sta: string; rsn?: string; seq: number };

/**
 * Opens a 夫妻投靠 (HUKOU_SPOUSE) case at `gw` with `origin` as its origin and completes step 0 there,
 * so that step 1 is ASSIGNED to the origin.
 */
export async function openSpouseCaseWithOrigin(gw: Gateway, origin: string, approvalNo: string): Promise<CaseBody> {
  const opened = await call<CaseBody>(gw, 'POST', '/v1/cases', {
    itemCode: 'HUKOU_SPOUSE',
    applicant: { name: '李四', idNumber: '11010519491231002X' },
    participants: { DESTINATION: gw.code, ORIGIN: origin },
    materials: [{ code: 'HOUSEHOLD_REGISTERS' }, { code: 'RESIDENT_ID_CARD' }, { code: 'MARRIAGE_CERTIFICATE' }],
    receivedAt: { office: '北京市朝阳区政务服务中心', clerk: '赵窗口', channel: 'WINDOW' },
  });
  expect(opened.status).toBe(201);
  expect((await call(gw, 'POST', `/v1/tasks/${opened.body.collaborationId}~0/complete`, { outputs: { approval_no: approvalNo } })).status).toBe(200);
  return opened.body;
}

/** Delivers one case message from `peer` to `gw`; resolves with the receipt's claims (the delivery itself must succeed). */
export async function deliverFrom(peer: FakePeer, gw: Gateway, m: { messageId: string; stream: string; seq: number; type: string; body: Uint8Array }): Promise<ReceiptClaims> {
  const payload = DeliveryPayload.encode({ messageId: m.messageId, stream: m.stream, seq: String(m.seq), type: m.type, body: Buffer.from(m.body) }).finish();
  const r = await FakePeer.send(gw.grpcEndpoint, 'deliver', peer.craft({ aud: gw.code, mty: 'tongban.federation.v1.DeliveryPayload', payload }));
  expect({ code: r.code, details: r.details }).toEqual({ code: undefined, details: undefined });
  const receipt = DeliveryReceiptPayload.decode(r.envelope!.payload).receipt;
  return JSON.parse(Buffer.from(receipt.split('.')[1], 'base64url').toString()) as ReceiptClaims;
}
