import { CompactSign, exportJWK, generateKeyPair, JWK, KeyLike } from 'jose';
import { AUDIT_CHECKPOINT_TYP, AuditChainCheckpoint, AuditChainRow, GENESIS_HASH, auditEntryHash, checkpointLink } from './audit-chain';
import { AuditChainVerifyOptions, ExportedCheckpoint, verifyAuditChain } from './audit-chain.verifier';

// The strict rules of `tongban audit verify`: keys from outside, kid from the signed header, prev
// links between checkpoints, spacing of checkpoints, the unsealed tail, and the exported trail.
const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5, 9);

/** Entries 1..n, one a minute from T0. */
function chain(n: number): AuditChainRow[] {
  let prevHash = GENESIS_HASH;
  return Array.from({ length: n }, (_, i) => {
    const row: AuditChainRow = { seq: i + 1, at: T0 + i * MIN, event: 'e', actor: 'a', subject: `s${i + 1}`, outcome: 'OK', reason: null, messageId: null, details: null, prevHash, hash: null };
    row.hash = auditEntryHash(row);
    prevHash = row.hash;
    return row;
  });
}

interface Signer {
  key: KeyLike;
  jwk: JWK;
}

async function signer(kid: string): Promise<Signer> {
  const pair = await generateKeyPair('EdDSA');
  return { key: pair.privateKey, jwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'EdDSA' } };
}

/** Checkpoints as the gateway writes them: at the given seqs, each `at` a minute after its entry, linked by `prev`. */
async function sealed(rows: AuditChainRow[], seqs: number[], s: Signer, o: { at?: (seq: number) => number; links?: boolean } = {}): Promise<AuditChainCheckpoint[]> {
  const out: AuditChainCheckpoint[] = [];
  for (const seq of seqs) {
    const hash = rows[seq - 1].hash!;
    const at = o.at ? o.at(seq) : T0 + seq * MIN;
    const prev = out.length ? checkpointLink(out[out.length - 1].signature) : GENESIS_HASH;
    const claims = { iss: '110000', seq, hash, at, ...(o.links === false ? {} : { prev }) };
    const signature = await new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader({ alg: 'EdDSA', kid: s.jwk.kid!, typ: AUDIT_CHECKPOINT_TYP }).sign(s.key);
    out.push({ seq, hash, at, signature, kid: s.jwk.kid! });
  }
  return out;
}

describe('strict audit verification', () => {
  let ours: Signer;
  let attacker: Signer;
  let rows: AuditChainRow[];
  let cps: AuditChainCheckpoint[];
  const NOW = T0 + 12 * MIN;
  const rules = (o: Partial<AuditChainVerifyOptions> = {}): Omit<AuditChainVerifyOptions, 'jwks'> => ({ issuer: '110000', intervalSeconds: 300, intervalEntries: 100, now: NOW, ...o });
  const verify = (r: AuditChainRow[], c: AuditChainCheckpoint[], o: Partial<AuditChainVerifyOptions> = {}) => verifyAuditChain(r, c, o.jwks ?? { keys: [ours.jwk] }, rules(o));

  beforeAll(async () => {
    ours = await signer('ours');
    attacker = await signer('attacker');
    rows = chain(10);
    cps = await sealed(rows, [3, 6, 10], ours);
  });

  it('an untouched, sealed chain is PROVEN', async () => {
    expect(await verify(rows, cps)).toMatchObject({ ok: true, verdict: 'PROVEN', notProven: [], checkpoints: { checked: 3, bad: 0, lastGoodSeq: 10 } });
  });

  it('without outside keys nothing is proven, however intact', async () => {
    expect(await verifyAuditChain(rows, cps, undefined, rules())).toMatchObject({ ok: true, verdict: 'NOT_PROVEN', notProven: [expect.stringContaining('not checked')] });
  });

  it('zero checkpoints on a non-empty chain: NOT_PROVEN (an empty chain has nothing to prove)', async () => {
    expect(await verify(rows, [])).toMatchObject({ ok: true, verdict: 'NOT_PROVEN', notProven: [expect.stringContaining('the chain has 10 entries and no checkpoint')] });
    expect(await verify([], [])).toMatchObject({ ok: true, verdict: 'PROVEN' });
  });

  it('an edited row is TAMPERED at its seq', async () => {
    const edited = rows.map((r) => (r.seq === 4 ? { ...r, actor: 'nobody' } : r));
    expect(await verify(edited, cps)).toMatchObject({ verdict: 'TAMPERED', firstBadSeq: 4, problem: 'entry content does not match its hash (entry altered)' });
  });

  it('a deleted row is TAMPERED at the row after it', async () => {
    expect(
      await verify(
        rows.filter((r) => r.seq !== 5),
        cps,
      ),
    ).toMatchObject({ verdict: 'TAMPERED', firstBadSeq: 6, problem: expect.stringContaining('entries 5..5 are missing') });
  });

  it('a deleted tail is TAMPERED when a checkpoint covered it', async () => {
    expect(await verify(rows.slice(0, 8), cps)).toMatchObject({ verdict: 'TAMPERED', firstBadSeq: 10, problem: expect.stringContaining('beyond the last entry (8)') });
  });

  it('a deleted tail with its checkpoint: the next-older checkpoint is then the last, and the exported trail shows the cut', async () => {
    const cut = rows.slice(0, 7);
    const kept = cps.slice(0, 2);
    // Entries 7.. are unsealed and 6 minutes old: within 2 × 300 s, so the database alone cannot tell.
    expect(await verify(cut, kept)).toMatchObject({ verdict: 'PROVEN' });
    const exported: ExportedCheckpoint[] = cps.map((c, i) => ({ ...c, source: `trail:${i + 1}` }));
    expect(await verify(cut, kept, { exported })).toMatchObject({
      verdict: 'TAMPERED',
      firstBadSeq: 10,
      problem: expect.stringContaining('(trail:3) is beyond the last entry (7): entries were removed (truncated)'),
    });
    // Later, the unsealed tail is older than twice the interval: NOT_PROVEN even without the trail.
    expect(await verify(cut, kept, { now: T0 + 30 * MIN })).toMatchObject({
      verdict: 'NOT_PROVEN',
      notProven: [expect.stringContaining('entries after seq 6 are not covered by a trusted checkpoint and the oldest is')],
    });
  });

  it('a deleted checkpoint breaks the prev link of the next one', async () => {
    const without = [cps[0], cps[2]];
    expect(await verify(rows, without)).toMatchObject({
      verdict: 'TAMPERED',
      firstBadSeq: 10,
      problem: 'checkpoint at seq 10 does not link to the checkpoint stored before it (seq 3): a checkpoint between them was removed or replaced',
    });
    expect(await verify(rows, cps.slice(1))).toMatchObject({ verdict: 'TAMPERED', firstBadSeq: 6, problem: expect.stringContaining('links to an earlier checkpoint that is not stored') });
  });

  it('the exported trail names a deleted or rewritten checkpoint', async () => {
    const exported: ExportedCheckpoint[] = cps.map((c, i) => ({ ...c, source: `trail:${i + 1}` }));
    expect(await verify(rows, cps, { exported })).toMatchObject({ verdict: 'PROVEN', checkpoints: { exported: 3 } });
    // Deleting the newest checkpoint leaves no broken link in the database; the trail still has it.
    expect(await verify(rows, cps.slice(0, 2), { exported })).toMatchObject({
      verdict: 'TAMPERED',
      firstBadSeq: 10,
      problem: expect.stringContaining('is not in the database: the checkpoint was deleted'),
    });
    const other = await sealedAfter(rows, cps.slice(0, 2), 10, ours, T0 + 11 * MIN + 1);
    expect(await verify(rows, [...cps.slice(0, 2), other], { exported })).toMatchObject({
      verdict: 'TAMPERED',
      problem: expect.stringContaining('differs from the exported one (trail:3): rewritten'),
    });
  });

  it('a forged checkpoint whose kid column names a key the attacker put in the database does not verify with outside keys', async () => {
    // A rewritten chain (entry 8 changed, hashes recomputed), sealed by the attacker's own key.
    const rewritten = chain(10);
    rewritten[7] = { ...rewritten[7], subject: 'rewritten' };
    let prevHash = rewritten[6].hash;
    for (let i = 7; i < 10; i++) {
      rewritten[i] = { ...rewritten[i], prevHash, hash: null };
      rewritten[i].hash = auditEntryHash(rewritten[i]);
      prevHash = rewritten[i].hash;
    }
    const [forged] = await sealed(rewritten, [10], attacker);
    const stored = [...cps.slice(0, 2), { ...forged, kid: 'attacker' }];
    expect(await verify(rewritten, stored)).toMatchObject({ verdict: 'TAMPERED', firstBadSeq: 10, problem: expect.stringContaining('signature does not verify with the keys given') });
    // Naming our (revoked) key in the column changes nothing: the column is never used to pick or excuse a key.
    const posing = [...cps.slice(0, 2), { ...forged, kid: 'ours' }];
    expect(await verify(rewritten, posing, { revokedKids: ['ours'] })).toMatchObject({ verdict: 'TAMPERED', firstBadSeq: 10, problem: expect.stringContaining('signature does not verify') });
    // Signed with the header kid of our key by another key: still no.
    const [lying] = await sealed(rewritten, [10], { key: attacker.key, jwk: ours.jwk });
    expect(await verify(rewritten, [...cps.slice(0, 2), lying])).toMatchObject({ verdict: 'TAMPERED', problem: expect.stringContaining('signature does not verify') });
  });

  it('the kid column must equal the signed header kid', async () => {
    const relabelled = [cps[0], cps[1], { ...cps[2], kid: 'k-other' }];
    expect(await verify(rows, relabelled)).toMatchObject({ verdict: 'TAMPERED', firstBadSeq: 10, problem: 'checkpoint at seq 10: stored kid k-other differs from the key that signed it (ours)' });
  });

  it('a revoked key (by the verified header kid) proves nothing: what it alone sealed is NOT_PROVEN', async () => {
    const r = await verify(rows, cps, { revokedKids: ['ours'] });
    expect(r).toMatchObject({ ok: true, verdict: 'NOT_PROVEN', checkpoints: { skipped: 3 }, notProven: ['no checkpoint is signed by a trusted (not revoked) key'] });
    // A later checkpoint by the new key covers everything before it.
    const next = await signer('next');
    const linked = await sealedAfter(chain(11), cps, 11, next);
    expect(await verifyAuditChain(chain(11), [...cps, linked], { keys: [ours.jwk, next.jwk] }, rules({ revokedKids: ['ours'] }))).toMatchObject({
      verdict: 'PROVEN',
      checkpoints: { skipped: 3, lastGoodSeq: 11 },
    });
  });

  it('checkpoints further apart than twice the interval: NOT_PROVEN (in entries and in seconds)', async () => {
    expect(await verify(rows, cps, { intervalEntries: 2 })).toMatchObject({ verdict: 'PROVEN' }); // 3, 3 and 4 apart: within 2 × 2
    const apart = await verify(rows, cps, { intervalEntries: 1 });
    expect(apart).toMatchObject({
      verdict: 'NOT_PROVEN',
      notProven: expect.arrayContaining([expect.stringContaining('checkpoints at seq 0 and 3 are 3 entries apart, more than twice the interval (1)')]),
    });
    expect(apart.notProven).toContainEqual(expect.stringContaining('checkpoints at seq 6 and 10 are 4 entries apart'));
    // Entry 7 (T0+6 min) sealed at T0+10 min: waited 240 s; over twice 60 s.
    const r = await verify(rows, cps, { intervalSeconds: 60, now: T0 + 10 * MIN });
    expect(r).toMatchObject({
      verdict: 'NOT_PROVEN',
      notProven: expect.arrayContaining(['entries after seq 6 waited 240 s for a checkpoint (seq 10), more than twice the interval (60 s): checkpoints were removed, or the gateway did not seal']),
    });
    // Checkpoints written before prev links existed are not held to the spacing rules.
    const legacy = await sealed(rows, [3, 6, 10], ours, { links: false });
    expect(await verify(rows, legacy, { intervalSeconds: 60, intervalEntries: 1, now: T0 + 10 * MIN })).toMatchObject({ verdict: 'PROVEN' });
  });

  it('a checkpoint without prev after linked ones is TAMPERED (a replayed old-format checkpoint)', async () => {
    const [unlinked] = await sealed(chain(11), [11], ours, { links: false });
    expect(await verify(chain(11), [...cps, unlinked])).toMatchObject({ verdict: 'TAMPERED', firstBadSeq: 11, problem: expect.stringContaining('has no prev link') });
  });
});

/** A checkpoint at `seq` by `s`, linked to the last of `before`. */
async function sealedAfter(rows: AuditChainRow[], before: AuditChainCheckpoint[], seq: number, s: Signer, at = T0 + seq * MIN): Promise<AuditChainCheckpoint> {
  const hash = rows[seq - 1].hash!;
  const claims = { iss: '110000', seq, hash, at, prev: checkpointLink(before[before.length - 1].signature) };
  const signature = await new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader({ alg: 'EdDSA', kid: s.jwk.kid!, typ: AUDIT_CHECKPOINT_TYP }).sign(s.key);
  return { seq, hash, at, signature, kid: s.jwk.kid! };
}
