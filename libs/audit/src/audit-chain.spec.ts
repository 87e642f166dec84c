import fc from 'fast-check';
import { CompactSign, exportJWK, generateKeyPair, JWK, KeyLike } from 'jose';
import { AUDIT_CHECKPOINT_TYP, AuditChainCheckpoint, AuditChainRow, GENESIS_HASH, auditEntryHash } from './audit-chain';
import { verifyAuditChain } from './audit-chain.verifier';

type Content = Omit<AuditChainRow, 'seq' | 'prevHash' | 'hash'>;

/** Links contents into a valid chain with seq 1..n. */
function chain(contents: Content[]): AuditChainRow[] {
  let prevHash = GENESIS_HASH;
  return contents.map((c, i) => {
    const row: AuditChainRow = { ...c, seq: i + 1, prevHash, hash: null };
    row.hash = auditEntryHash(row);
    prevHash = row.hash;
    return row;
  });
}

const text = fc.string({ maxLength: 12, unit: 'binary' });
const optionalText = fc.option(text, { nil: null });
const content: fc.Arbitrary<Content> = fc.record({
  at: fc.integer({ min: 0, max: 4_000_000_000_000 }),
  event: fc.constantFrom('verification.requested', 'federation.request.refused', 'admin.key.rotated'),
  actor: text,
  subject: text,
  outcome: fc.constantFrom('OK', 'REFUSED', 'FAILED'),
  reason: optionalText,
  messageId: optionalText,
  details: fc.option(fc.json({ maxDepth: 1 }), { nil: null }),
  // SHA-256 (null) and SM3 entries mixed at random: a chain may switch hash at any entry (TONGBAN_AUDIT_HASH).
  hashAlg: fc.constantFrom(null, 'SM3'),
});
const chains = fc.array(content, { minLength: 1, maxLength: 25 }).map(chain);
const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);

type Field = keyof AuditChainRow;
const FIELDS: Field[] = ['seq', 'at', 'event', 'actor', 'subject', 'outcome', 'reason', 'messageId', 'details', 'prevHash', 'hash', 'hashAlg'];

/** A value for `field` that differs from `current`, in the field's own domain. */
function otherValue(field: Field, current: unknown): fc.Arbitrary<unknown> {
  const base: fc.Arbitrary<unknown> =
    field === 'seq'
      ? fc.integer({ min: -3, max: 40 })
      : field === 'at'
        ? fc.integer({ min: 0, max: 4_000_000_000_000 })
        : field === 'hashAlg'
          ? fc.constantFrom(null, 'SM3', 'SHA-256', 'sm3', 'MD5')
          : field === 'prevHash' || field === 'hash'
            ? fc.oneof(hex64, fc.constant(null), fc.constant(GENESIS_HASH))
            : field === 'reason' || field === 'messageId' || field === 'details'
              ? optionalText
              : text;
  return base.filter((v) => v !== current);
}

const mutation = chains.chain((rows) =>
  fc
    .record({
      rows: fc.constant(rows),
      index: fc.nat({ max: rows.length - 1 }),
      field: fc.constantFrom(...FIELDS),
    })
    .chain((m) => otherValue(m.field, rows[m.index][m.field]).map((value) => ({ ...m, value }))),
);

describe('verifyAuditChain', () => {
  it('accepts every well-formed chain, in any input order', async () => {
    await fc.assert(
      fc.asyncProperty(chains, async (rows) => {
        const shuffled = [...rows].reverse();
        expect(await verifyAuditChain(shuffled, [])).toEqual({
          ok: true,
          verdict: 'NOT_PROVEN',
          notProven: ['checkpoint signatures were not checked: give public keys from outside the database (--jwks or --jwks-url)'],
          checked: rows.length,
          checkpoints: { checked: 0, bad: 0, skipped: 0, exported: 0 },
          signaturesChecked: false,
          gaps: 0,
          headSeq: rows.length,
          hashes: Object.fromEntries((['SHA-256', 'SM3'] as const).map((alg) => [alg, rows.filter((r) => (r.hashAlg ?? 'SHA-256') === alg).length] as const).filter(([, n]) => n > 0)),
        });
      }),
    );
  });

  it('detects any single-field mutation of any row at exactly that row', async () => {
    await fc.assert(
      fc.asyncProperty(mutation, async ({ rows, index, field, value }) => {
        const tampered = rows.map((r, i) => (i === index ? { ...r, [field]: value } : r));
        const report = await verifyAuditChain(tampered, []);
        const seq = index + 1;
        let expected = seq;
        if (field === 'seq') {
          // The row now sits at `value`; moved later, it leaves a hole that the next row reports first.
          const v = value as number;
          const isLast = index === rows.length - 1;
          expected = v < seq || isLast ? v : seq + 1;
        }
        expect(report.ok).toBe(false);
        expect(report.firstBadSeq).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('detects a deleted row (not the last) at the first row after it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .array(content, { minLength: 2, maxLength: 25 })
          .map(chain)
          .chain((rows) => fc.record({ rows: fc.constant(rows), index: fc.nat({ max: rows.length - 2 }) })),
        async ({ rows, index }) => {
          const report = await verifyAuditChain(
            rows.filter((_, i) => i !== index),
            [],
          );
          expect(report).toMatchObject({ ok: false, firstBadSeq: index + 2 });
        },
      ),
    );
  });

  it('explains a hole: which entries are missing, or that the chain does not start at the genesis', async () => {
    const rows = chain(Array.from({ length: 6 }, (_, i) => ({ at: i, event: 'e', actor: 'a', subject: `s${i}`, outcome: 'OK', reason: null, messageId: null, details: null })));
    expect(await verifyAuditChain([...rows.slice(0, 2), ...rows.slice(4)], [])).toMatchObject({ firstBadSeq: 5, problem: 'entries 3..4 are missing: prev_hash does not link to entry 2' });
    expect(await verifyAuditChain(rows.slice(2), [])).toMatchObject({ firstBadSeq: 3, problem: expect.stringContaining('genesis') });
    expect(await verifyAuditChain([...rows, { ...rows[5] }], [])).toMatchObject({ firstBadSeq: 6, problem: 'seq 6 appears twice' });
    expect(await verifyAuditChain([], [])).toMatchObject({ ok: true, checked: 0 });
  });

  describe('checkpoints', () => {
    let key: KeyLike;
    let jwk: JWK;
    const rows = chain(Array.from({ length: 5 }, (_, i) => ({ at: 1000 + i, event: 'e', actor: 'a', subject: `s${i}`, outcome: 'OK', reason: null, messageId: null, details: null })));
    const sign = (claims: object, header: object = {}) =>
      new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader({ alg: 'EdDSA', kid: 'k1', typ: AUDIT_CHECKPOINT_TYP, ...header }).sign(key);
    const checkpoint = async (seq: number, over: Partial<AuditChainCheckpoint> = {}, claims: object = {}, header: object = {}): Promise<AuditChainCheckpoint> => {
      const hash = over.hash ?? rows[seq - 1]?.hash ?? 'e'.repeat(64);
      return { seq, hash, at: 5000, kid: 'k1', signature: await sign({ iss: '110000', seq, hash, at: 5000, ...claims }, header), ...over };
    };

    beforeAll(async () => {
      const pair = await generateKeyPair('EdDSA');
      key = pair.privateKey;
      jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'EdDSA' };
    });

    it('a correct checkpoint verifies; each kind of forgery is named at its seq', async () => {
      const jwks = { keys: [jwk] };
      expect(await verifyAuditChain(rows, [await checkpoint(3), await checkpoint(5)], jwks, { issuer: '110000' })).toMatchObject({ ok: true, checkpoints: { checked: 2, bad: 0, lastGoodSeq: 5 } });

      const cases: [AuditChainCheckpoint, string][] = [
        [await checkpoint(3, { hash: 'f'.repeat(64) }), 'does not match the chain'],
        [await checkpoint(9), 'beyond the last entry (5)'],
        [await checkpoint(3, {}, { hash: 'f'.repeat(64) }), 'signed claims differ'],
        [await checkpoint(3, {}, { seq: 2 }), 'signed claims differ'],
        [await checkpoint(3, {}, { at: 1 }), 'signed claims differ'],
        [await checkpoint(3, {}, { iss: '120000' }), 'not 110000'],
        [await checkpoint(3, {}, {}, { typ: 'tongban-attestation+jwt' }), 'not a checkpoint'],
        [await checkpoint(3, { kid: 'other' }), 'differs from the key that signed it'],
        [await checkpoint(3, {}, {}, { kid: 'unknown' }), 'signature does not verify'],
        [await checkpoint(3, { signature: 'not.a.jws' }), 'signature does not verify'],
      ];
      for (const [c, problem] of cases) {
        const report = await verifyAuditChain(rows, [c, await checkpoint(5)], jwks, { issuer: '110000' });
        expect({ c: c.seq, ...report }).toMatchObject({ ok: false, firstBadSeq: c.seq, problem: expect.stringContaining(problem), checkpoints: { checked: 2, bad: 1 } });
      }
      // Without a JWKS only the hash is compared.
      expect(await verifyAuditChain(rows, [await checkpoint(3, { kid: 'other', signature: 'x' })])).toMatchObject({ ok: true, signaturesChecked: false, checkpoints: { checked: 1, bad: 0 } });
    });

    it('a chain problem before a checkpoint problem is the one reported', async () => {
      const tampered = rows.map((r) => (r.seq === 2 ? { ...r, subject: 'x' } : r));
      expect(await verifyAuditChain(tampered, [await checkpoint(4, { hash: 'f'.repeat(64) })], { keys: [jwk] })).toMatchObject({ firstBadSeq: 2, checkpoints: { bad: 1 } });
    });

    it('never throws on hostile checkpoint signatures', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.string(),
            fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map((p) => p.join('.')),
          ),
          fc.json(),
          async (signature, payload) => {
            const forged = await sign(JSON.parse(payload) as object);
            for (const s of [signature, forged]) {
              const report = await verifyAuditChain(rows, [{ seq: 5, hash: rows[4].hash!, at: 5000, kid: 'k1', signature: s }], { keys: [jwk] });
              expect(report).toMatchObject({ ok: false, firstBadSeq: 5, checkpoints: { bad: 1 } });
            }
          },
        ),
        { numRuns: 100 },
      );
    });
  });
});
