import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { digest, FederationOptions, SignedTokenVerifier } from '@tongban/federation';
import { KeyStore } from '@tongban/keys';
import { CaseEventNote } from '@tongban/proto';
import { TrustStore } from '@tongban/trust';
import { RECEIPT_TYP, ReceiptClaims } from './delivery.options';
import { receiptClaims } from './receipt-claims';

// docs/protocol.md §10.9 is a test vector: this test takes its inputs from the document, builds the
// receipt with the gateway's own code and checks it as the sending gateway does, so the document and
// the code cannot drift apart.
const DOC = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'protocol.md'), 'utf8');

function section(title: string): string {
  const start = DOC.indexOf(`### ${title}`);
  if (start < 0) throw new Error(`docs/protocol.md has no section "${title}"`);
  const end = DOC.indexOf('\n## ', start);
  return DOC.slice(start, end < 0 ? undefined : end);
}

/** `name: value` lines inside the fenced blocks of a section. */
function values(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const block of text.match(/```[^\n]*\n[\s\S]*?```/g) ?? []) {
    for (const line of block.split('\n')) {
      const m = /^([A-Za-z_ ()]+?):\s+(.+)$/.exec(line.trim());
      if (m) out[m[1]] = m[2].trim();
    }
  }
  return out;
}

const v = values(section('10.9 A signed delivery receipt'));
// §10.1 lists Beijing's key first: its private JWK and kid are the first of their lines there.
const beijingJwk = JSON.parse(/private JWK \(TEST ONLY\): (\{.*\})/.exec(section('10.1 Keys'))![1]) as { x: string; d: string; crv: string; kty: string };
const beijingKid = /\*\*Beijing[\s\S]*?kid:\s+(\S+)/.exec(section('10.1 Keys'))![1];

describe('docs/protocol.md §10.9: the signed delivery receipt', () => {
  const body = Buffer.from(v['body (hex)'], 'hex');
  const message = { sender: v['sender (aud)'], messageId: v.message_id, stream: v.stream, seq: Number(v.seq), type: v.type, body };

  it('has every input and output it needs', () => {
    for (const k of ['receiver (iss)', 'sender (aud)', 'message_id', 'stream', 'seq', 'type', 'body (hex)', 'status', 'iat', 'header', 'claims', 'receipt']) expect(v[k]).toBeDefined();
    expect(beijingKid).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('the body is the CaseEventNote the document describes', () => {
    expect(CaseEventNote.decode(body)).toMatchObject({ collaborationId: v.stream, type: 'POSTAL_SENT', detailsJson: '{"carrier":"EMS","trackingNumber":"1100000000001"}', actor: 'hall' });
  });

  it('the gateway builds the same claims, header and signed receipt from those inputs', () => {
    const claims = receiptClaims(v['receiver (iss)'], message, v.status as ReceiptClaims['sta'], undefined, Number(v.iat));
    expect(JSON.stringify(claims)).toBe(v.claims);
    const key = createPrivateKey({ key: beijingJwk, format: 'jwk' });
    // KeyStore.signJws itself, with the document's test key in place of the database.
    const store = { activeKid: () => beijingKid, algOf: () => 'EdDSA', sign: (_kid: string, data: Buffer) => sign(null, data, key) };
    const receipt = KeyStore.prototype.signJws.call(store as unknown as KeyStore, RECEIPT_TYP, claims);
    expect(Buffer.from(receipt.split('.')[0], 'base64url').toString()).toBe(v.header);
    expect(receipt).toBe(v.receipt);
  });

  it('the sending gateway accepts the receipt as the document says, and refuses a changed one', async () => {
    const publicKey = createPublicKey({ key: { kty: beijingJwk.kty, crv: beijingJwk.crv, x: beijingJwk.x }, format: 'jwk' });
    const status = { current: 'ACTIVE' };
    const trust = {
      peer: (code: string) =>
        code === '110000'
          ? {
              keys: new Map([
                [
                  beijingKid,
                  {
                    key: publicKey,
                    alg: 'EdDSA',
                    get status() {
                      return status.current;
                    },
                  },
                ],
              ]),
            }
          : undefined,
    } as unknown as TrustStore;
    const verifier = new SignedTokenVerifier({ publicKey: () => undefined } as unknown as KeyStore, trust, { allowedAlgorithms: ['EdDSA', 'ES256'] } as FederationOptions, '440000');
    const check = await verifier.check<ReceiptClaims>(v.receipt, RECEIPT_TYP);
    expect(check).toMatchObject({ valid: true, kid: beijingKid, claims: { iss: '110000', mid: v.message_id, sta: 'ACCEPTED', dig: digest(body) } });
    status.current = 'RETIRED';
    expect((await verifier.check(v.receipt, RECEIPT_TYP)).valid).toBe(true);
    status.current = 'REVOKED';
    expect(await verifier.check(v.receipt, RECEIPT_TYP)).toMatchObject({ valid: false, reason: 'KEY_REVOKED' });
    status.current = 'ACTIVE';
    const [h, c, s] = v.receipt.split('.');
    const changed = Buffer.from(Buffer.from(c, 'base64url').toString().replace('"ACCEPTED"', '"REJECTED"')).toString('base64url');
    expect(await verifier.check(`${h}.${changed}.${s}`, RECEIPT_TYP)).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });
  });
});
