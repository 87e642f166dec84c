import { createHash, generateKeyPairSync, KeyObject, sign as cryptoSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Clock } from '@tongban/common';
import type { AuditLog } from '@tongban/audit';
import * as federation from '@tongban/federation';
import type { FederationOptions } from '@tongban/federation';
import { checkCitizenId, checkLicenceId } from '@tongban/identifiers';
import type { KeyStore } from '@tongban/keys';
import { LicenceLookup, LicenceRecord, licenceRecordSchema, LicenceSourceUnavailableError, LicenceTypeCatalogue } from '@tongban/licences';
import { HolderClaim, LicenceQuery, LicenceResult, LicenceStatus, MatchResult } from '@tongban/proto';
import { TrustedPeer, TrustStore } from '@tongban/trust';
import { AttestationClaims } from './attestation-claims';
import { AttestationService } from './attestation.service';
import { IssuerService, MalformedQueryError, statusOf } from './issuer.service';
import { trustedPeer } from '@tongban/testkit';

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const BJ = '110000'; // this issuer
const GD = '440000'; // a peer allowed two types
const HB = '130000'; // a peer allowed everything
const TJ = '120000'; // unknown
const W009 = '11100000000013338W009'; // 营业执照 (001 holders)
const W011 = '11100000000013338W011'; // 结婚证 (111 holders)
const W020 = '11100000000013338W020'; // 驾驶证 (111 holders)
const W031 = '11100000000013338W031'; // 不动产权证书: not in the test catalogue

const DEMO = JSON.parse(readFileSync(path.join(__dirname, '../../../deploy/demo/licences-110000.json'), 'utf8')) as LicenceRecord[];
const byNumber = (n: string): LicenceRecord => {
  const r = DEMO.find((d) => d.number === n);
  if (!r) throw new Error(`demo licence ${n} missing`);
  return r;
};
const VALID_BIZ = byNumber('京营字2017826165'); // 北京星河演示科技有限公司, 001, no expiry
const OTHER_BIZ = byNumber('京营字2024668328'); // 北京青松演示建筑工程有限公司
const ZHANG = byNumber('京婚字2024617156'); // 张三, 111
const LISI = byNumber('京驾字2024684002'); // 李四, 111, ID ends in X, valid until 2034
const WANGWU = byNumber('京驾字2021691224'); // 王五
const EXPIRED = byNumber('京驾字2012300552'); // 吴芳, VALID but validUntil 2022-01-22
const SUSPENDED = byNumber('京驾字2021801606'); // 郑伟
const REVOKED = byNumber('京营字2020899130'); // 北京启明演示物流有限公司
const PROPERTY = byNumber('京不动产权字2017695583'); // 赵六, type not in the catalogue

const NOW = new Date('2026-11-25T12:00:00.123Z');

class FakeClock extends Clock {
  constructor(public current: Date) {
    super();
  }
  now(): Date {
    return this.current;
  }
}

class MemoryLookup extends LicenceLookup {
  readonly calls: string[] = [];
  constructor(private readonly records: LicenceRecord[]) {
    super();
  }
  async findById(licenceId: string): Promise<LicenceRecord | null> {
    this.calls.push(`id:${licenceId}`);
    return this.records.find((r) => r.licenceId === licenceId) ?? null;
  }
  async findByNumber(typeCode: string, number: string): Promise<LicenceRecord | null> {
    this.calls.push(`number:${typeCode}:${number}`);
    return this.records.find((r) => r.typeCode === typeCode && r.number === number) ?? null;
  }
}

function makeKey(): { kid: string; privateKey: KeyObject; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    kid: createHash('sha256')
      .update(publicKey.export({ format: 'der', type: 'spki' }))
      .digest('base64url'),
    privateKey,
    publicKey,
  };
}
const OWN_KEY = makeKey();
const b64json = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

const fakeKeyStore = {
  activeKid: () => OWN_KEY.kid,
  algOf: () => 'EdDSA',
  signJws: (typ: string, claims: object) => {
    const input = `${b64json({ alg: 'EdDSA', kid: OWN_KEY.kid, typ })}.${b64json(claims)}`;
    return `${input}.${cryptoSign(null, Buffer.from(input), OWN_KEY.privateKey).toString('base64url')}`;
  },
  publicKey: (kid: string) => (kid === OWN_KEY.kid ? { key: OWN_KEY.publicKey, alg: 'EdDSA', status: 'ACTIVE' } : undefined),
} as unknown as KeyStore;

function peer(code: string, allowedLicenceTypes: string[]): TrustedPeer {
  return trustedPeer(code, { allowedLicenceTypes });
}
const PEERS = new Map([
  [GD, peer(GD, [W009, W020])],
  [HB, peer(HB, ['*'])],
]);
// The real allowsLicenceType (it does not touch the database).
const fakeTrust = { peer: (c: string) => PEERS.get(c), allowsLicenceType: TrustStore.prototype.allowsLicenceType.bind(TrustStore.prototype) } as unknown as TrustStore;

const OPTIONS: FederationOptions = { allowedAlgorithms: ['EdDSA', 'ES256'], messageTtlSeconds: 120, clockSkewSeconds: 60, maxPayloadBytes: 1024, peerDeadlineMs: 3000 };

const catalogue = new LicenceTypeCatalogue('test', [
  { code: W009, name: '营业执照', disclose: ['licenceType', 'licenceName', 'licenceNumber', 'licenceId', 'holderName', 'issueDate', 'validFrom', 'validUntil', 'jurisdictionCode'] },
  { code: W011, name: '结婚证', disclose: ['licenceType', 'licenceName', 'licenceNumber', 'licenceId', 'issueDate'] },
  { code: W020, name: '机动车驾驶证', disclose: ['licenceType', 'licenceNumber', 'validUntil'] },
]);

const holder = (h: Partial<HolderClaim>): HolderClaim => ({ name: '', idNumber: '', creditCode: '', ...h });
const query = (over: Partial<LicenceQuery> = {}): LicenceQuery => ({
  queryId: 'q-1',
  licenceType: W009,
  licenceNumber: '',
  licenceId: '',
  holder: undefined,
  purpose: '办理变更登记',
  notifyRef: '',
  ...over,
});
const forRecord = (r: LicenceRecord, over: Partial<LicenceQuery> = {}) => query({ licenceType: r.typeCode, licenceId: r.licenceId, ...over });

/**
 * AttestationService is being refactored concurrently to check through SignedTokenVerifier
 * (@tongban/federation); build it either way so these specs track the behaviour, not the wiring.
 */
function makeAttestations(keyStore: KeyStore, trust: TrustStore, options: FederationOptions, self: string): AttestationService {
  type Ctor = new (...args: unknown[]) => unknown;
  const Verifier = (federation as unknown as Record<string, Ctor | undefined>).SignedTokenVerifier;
  const Service = AttestationService as unknown as Ctor;
  return (Verifier ? new Service(keyStore, new Verifier(keyStore, trust, options, self)) : new Service(keyStore, trust, options, self)) as AttestationService;
}

interface Harness {
  issuer: IssuerService;
  attestations: AttestationService;
  lookup: MemoryLookup;
  audit: { record: jest.Mock<void, Parameters<AuditLog['record']>>; recordNow: jest.Mock<Promise<void>, Parameters<AuditLog['recordNow']>> };
  clock: FakeClock;
}

function harness(records: LicenceRecord[] = DEMO, lookup: LicenceLookup = new MemoryLookup(records)): Harness {
  const audit = { record: jest.fn<void, Parameters<AuditLog['record']>>(), recordNow: jest.fn<Promise<void>, Parameters<AuditLog['recordNow']>>(async () => undefined) };
  const clock = new FakeClock(NOW);
  const attestations = makeAttestations(fakeKeyStore, fakeTrust, OPTIONS, BJ);
  const issuer = new IssuerService(lookup, catalogue, attestations, fakeTrust, audit as unknown as AuditLog, clock, BJ);
  return { issuer, attestations, lookup: lookup as MemoryLookup, audit, clock };
}

/** Answers one query from GD and returns the result with its checked attestation claims. */
async function ask(h: Harness, q: LicenceQuery, requester = GD): Promise<{ result: LicenceResult; claims: AttestationClaims }> {
  const [result] = await h.issuer.answer(requester, [q], new Set());
  const check = await h.attestations.check(result.attestation);
  expect(check.valid).toBe(true);
  return { result, claims: check.claims! };
}

// ---------------------------------------------------------------------------------------------

describe('IssuerService', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });

  describe('status', () => {
    it.each<[string, LicenceRecord, AttestationClaims['status'], LicenceStatus]>([
      ['VALID', VALID_BIZ, 'VALID', LicenceStatus.LICENCE_STATUS_VALID],
      ['VALID with an expiry in the future', LISI, 'VALID', LicenceStatus.LICENCE_STATUS_VALID],
      ['EXPIRED (VALID, validUntil passed)', EXPIRED, 'EXPIRED', LicenceStatus.LICENCE_STATUS_EXPIRED],
      ['SUSPENDED', SUSPENDED, 'SUSPENDED', LicenceStatus.LICENCE_STATUS_SUSPENDED],
      ['REVOKED', REVOKED, 'REVOKED', LicenceStatus.LICENCE_STATUS_REVOKED],
    ])('%s', async (_name, record, status, proto) => {
      const { result, claims } = await ask(h, forRecord(record));
      expect(result.status).toBe(proto);
      expect(claims.status).toBe(status);
      expect(result.licence).toBeDefined();
      expect(result.issuer).toEqual({ province: BJ, organName: record.issuerOrganName, organCode: record.issuerOrganCode });
      expect(claims.organCode).toBe(record.issuerOrganCode);
    });

    it('NOT_FOUND for a number that does not exist, echoing what was asked and disclosing nothing', async () => {
      const q = query({ licenceType: W009, licenceNumber: '京营字0000000000', holder: holder({ name: '张三', creditCode: VALID_BIZ.holderCode }) });
      const { result, claims } = await ask(h, q);
      expect(result.status).toBe(LicenceStatus.LICENCE_STATUS_NOT_FOUND);
      expect(result.licence).toBeUndefined();
      expect(result.issuer).toEqual({ province: BJ, organName: '', organCode: '' });
      expect(result.nameMatch).toBe(MatchResult.MATCH_RESULT_NOT_CHECKED);
      expect(result.codeMatch).toBe(MatchResult.MATCH_RESULT_NOT_CHECKED);
      expect(claims).toMatchObject({ status: 'NOT_FOUND', licenceNumber: '京营字0000000000', licenceId: null, organCode: null, holderMatch: { name: 'NOT_CHECKED', code: 'NOT_CHECKED' } });
    });

    it('finds a licence by type and number as well as by id', async () => {
      const { result, claims } = await ask(h, query({ licenceType: W020, licenceNumber: LISI.number }));
      expect(result.status).toBe(LicenceStatus.LICENCE_STATUS_VALID);
      expect(claims.licenceId).toBe(LISI.licenceId); // filled in from the record
      expect(h.lookup.calls).toEqual([`number:${W020}:${LISI.number}`]);
    });

    it('NOT_FOUND when the number exists under another type', async () => {
      const { claims } = await ask(h, query({ licenceType: W011, licenceNumber: LISI.number }));
      expect(claims.status).toBe('NOT_FOUND');
    });

    it('NOT_FOUND when a licenceId is asked under a licence type other than the one it embeds', async () => {
      const { result, claims } = await ask(h, query({ licenceType: W020, licenceId: VALID_BIZ.licenceId }));
      expect(claims.status).toBe('NOT_FOUND');
      expect(result.licence).toBeUndefined();
      expect(claims.licenceId).toBe(VALID_BIZ.licenceId);
    });

    it('NOT_FOUND even when a lookup returns a record of the asked type for an id embedding another type', async () => {
      // A province's own library that ignores the id's type part and returns a doctored record.
      const doctored: LicenceRecord = { ...LISI, licenceId: VALID_BIZ.licenceId };
      const lenient = { findById: async () => doctored, findByNumber: async () => doctored } as unknown as LicenceLookup;
      const { claims } = await ask(harness(DEMO, lenient), query({ licenceType: W020, licenceId: VALID_BIZ.licenceId }));
      expect(claims.status).toBe('NOT_FOUND');
    });

    it('NOT_FOUND when a lookup ignoring the type returns a licence of another type', async () => {
      const lenient = { findById: async () => null, findByNumber: async () => LISI } as unknown as LicenceLookup;
      const { claims } = await ask(harness(DEMO, lenient), query({ licenceType: W009, licenceNumber: LISI.number }));
      expect(claims.status).toBe('NOT_FOUND');
    });

    it('NOT_FOUND when licenceId and licenceNumber name different licences; found when they agree', async () => {
      const mismatch = await ask(h, forRecord(LISI, { licenceNumber: WANGWU.number }));
      expect(mismatch.claims.status).toBe('NOT_FOUND');
      const agree = await ask(h, forRecord(LISI, { licenceNumber: LISI.number }));
      expect(agree.claims.status).toBe('VALID');
    });
  });

  describe('statusOf on the Beijing calendar date', () => {
    const until = (validUntil: string | null, status: LicenceRecord['status'] = 'VALID'): LicenceRecord => ({ ...LISI, validUntil, status });

    it('a licence valid until 2026-11-25 is VALID through 23:59:59 Beijing time and EXPIRED from midnight', () => {
      expect(statusOf(until('2026-11-25'), new Date('2026-11-25T15:59:59.999Z'))).toBe('VALID');
      expect(statusOf(until('2026-11-25'), new Date('2026-11-25T16:00:00.000Z'))).toBe('EXPIRED');
      // Early on the 25th in Beijing is still the 24th in UTC.
      expect(statusOf(until('2026-11-24'), new Date('2026-11-24T16:00:00.000Z'))).toBe('EXPIRED');
      expect(statusOf(until('2026-11-24'), new Date('2026-11-24T15:59:59.000Z'))).toBe('VALID');
    });

    it('a licence valid from 2026-12-10 is NOT_YET_VALID until midnight Beijing time starts that day, then VALID', () => {
      const from = (validFrom: string, validUntil: string | null = null, status: LicenceRecord['status'] = 'VALID'): LicenceRecord => ({ ...LISI, validFrom, validUntil, status });
      // 2026-12-09T16:00Z is 2026-12-10 00:00 in Beijing; one millisecond before is still the 9th there (and the 9th in UTC).
      expect(statusOf(from('2026-12-10'), new Date('2026-12-09T15:59:59.999Z'))).toBe('NOT_YET_VALID');
      expect(statusOf(from('2026-12-10'), new Date('2026-12-09T16:00:00.000Z'))).toBe('VALID');
      // 20:00 UTC on the 9th is already the 10th in Beijing: a comparison on the UTC date would say NOT_YET_VALID.
      expect(statusOf(from('2026-12-10'), new Date('2026-12-09T20:00:00.000Z'))).toBe('VALID');
      expect(statusOf(from('2026-12-10', '2026-12-31'), new Date('2026-12-09T12:00:00Z'))).toBe('NOT_YET_VALID');
      // The record's own status wins over dates.
      expect(statusOf(from('2099-01-01', null, 'REVOKED'), NOW)).toBe('REVOKED');
    });

    it('answer() attests NOT_YET_VALID (claims and proto status agree)', async () => {
      const g = harness([{ ...LISI, validFrom: '2026-12-10', validUntil: null }]);
      g.clock.current = new Date('2026-12-09T15:00:00Z');
      const { result, claims } = await ask(g, forRecord(LISI));
      expect(claims.status).toBe('NOT_YET_VALID');
      expect(result.status).toBe(LicenceStatus.LICENCE_STATUS_NOT_YET_VALID);
    });

    it('no expiry is VALID forever; SUSPENDED and REVOKED win over dates', () => {
      expect(statusOf(until(null), new Date('2099-12-31T00:00:00Z'))).toBe('VALID');
      expect(statusOf(until('2020-01-01', 'SUSPENDED'), NOW)).toBe('SUSPENDED');
      expect(statusOf(until('2099-01-01', 'REVOKED'), NOW)).toBe('REVOKED');
    });

    it('answer() judges the status with the injected clock', async () => {
      const g = harness([until('2026-11-25')]);
      g.clock.current = new Date('2026-11-25T15:59:59Z');
      expect((await ask(g, forRecord(LISI))).claims.status).toBe('VALID');
      g.clock.current = new Date('2026-11-25T16:00:00Z');
      const { result, claims } = await ask(g, forRecord(LISI));
      expect(claims.status).toBe('EXPIRED');
      expect(claims.checkedAt).toBe('2026-11-25T16:00:00.000Z');
      expect(result.checkedAt).toEqual({ seconds: String(Date.parse('2026-11-25T16:00:00Z') / 1000), nanos: 0 });
    });
  });

  describe('holder name', () => {
    it.each([
      ['exact', '张三', 'MATCH'],
      ['with a space', '张 三', 'MATCH'],
      ['with a full-width space and trailing blanks', '张\u3000三 \t', 'MATCH'],
      ['different', '张四', 'MISMATCH'],
      ['empty (not asked)', '', 'NOT_CHECKED'],
    ])('%s → %s', async (_name, name, expected) => {
      const { claims, result } = await ask(h, forRecord(ZHANG, { holder: holder({ name }) }));
      expect(claims.holderMatch.name).toBe(expected);
      expect(result.nameMatch).toBe({ MATCH: MatchResult.MATCH_RESULT_MATCH, MISMATCH: MatchResult.MATCH_RESULT_MISMATCH, NOT_CHECKED: MatchResult.MATCH_RESULT_NOT_CHECKED }[expected]);
    });

    it('normalises full-width letters and middle dots (NFKC)', async () => {
      const record: LicenceRecord = { ...LISI, holderName: 'ALI·买买提' };
      const g = harness([record]);
      expect((await ask(g, forRecord(record, { holder: holder({ name: 'ＡＬＩ　买买提' }) }))).claims.holderMatch.name).toBe('MATCH');
      expect((await ask(g, forRecord(record, { holder: holder({ name: 'ALI・买买提' }) }))).claims.holderMatch.name).toBe('MATCH');
      expect((await ask(g, forRecord(record, { holder: holder({ name: 'ALI买买' }) }))).claims.holderMatch.name).toBe('MISMATCH');
    });

    it('NOT_CHECKED when no holder is given', async () => {
      const { claims } = await ask(h, forRecord(ZHANG));
      expect(claims.holderMatch).toEqual({ name: 'NOT_CHECKED', code: 'NOT_CHECKED' });
    });
  });

  describe('holder code', () => {
    it.each<[string, string, LicenceRecord, Partial<HolderClaim>]>([
      ['citizen ID of a 111 holder', 'MATCH', ZHANG, { idNumber: ZHANG.holderCode }],
      ['lower-case x check character of a 111 holder', 'MATCH', LISI, { idNumber: LISI.holderCode.toLowerCase() }],
      ['another citizen ID', 'MISMATCH', ZHANG, { idNumber: WANGWU.holderCode }],
      ['a credit code for a 111 holder', 'MISMATCH', ZHANG, { creditCode: VALID_BIZ.holderCode }],
      ['credit code of a 001 holder', 'MATCH', VALID_BIZ, { creditCode: VALID_BIZ.holderCode }],
      ['another credit code', 'MISMATCH', VALID_BIZ, { creditCode: OTHER_BIZ.holderCode }],
      ['a citizen ID for a 001 holder', 'MISMATCH', VALID_BIZ, { idNumber: ZHANG.holderCode }],
      ['nothing', 'NOT_CHECKED', VALID_BIZ, { name: '北京星河演示科技有限公司' }],
    ])('%s → %s', async (_name, expected, record, h_) => {
      const { claims } = await ask(h, forRecord(record, { holder: holder(h_) }));
      expect(claims.holderMatch.code).toBe(expected);
    });

    it('MISMATCH when the value is right but the code type differs', async () => {
      // Same 18 characters filed as a citizen ID for one record and presented as a credit code.
      const record: LicenceRecord = { ...VALID_BIZ, holderCodeType: '111', holderCode: ZHANG.holderCode };
      const g = harness([record]);
      expect((await ask(g, forRecord(record, { holder: holder({ creditCode: ZHANG.holderCode }) }))).claims.holderMatch.code).toBe('MISMATCH');
      expect((await ask(g, forRecord(record, { holder: holder({ idNumber: ZHANG.holderCode }) }))).claims.holderMatch.code).toBe('MATCH');
    });

    it('a citizen ID filed with a lower-case x is normalised on import, so it matches', () => {
      const parsed = licenceRecordSchema.parse({ ...LISI, holderCode: LISI.holderCode.toLowerCase() });
      expect(parsed.holderCode).toBe(LISI.holderCode.toUpperCase());
    });

    it('the holder code is compared, never returned (result, attestation and audit)', async () => {
      const { result, claims } = await ask(h, forRecord(VALID_BIZ, { holder: holder({ name: VALID_BIZ.holderName, creditCode: VALID_BIZ.holderCode }) }));
      expect(JSON.stringify(result)).not.toContain(VALID_BIZ.holderCode);
      expect(JSON.stringify(claims)).not.toContain(VALID_BIZ.holderCode);
      expect(JSON.stringify(h.audit.record.mock.calls)).not.toContain(VALID_BIZ.holderCode);
      expect(JSON.stringify(h.audit.record.mock.calls)).not.toContain(VALID_BIZ.holderName);
    });
  });

  describe('disclosure', () => {
    it('discloses every configured field of a 营业执照, omitting a null validUntil', async () => {
      const { result } = await ask(h, forRecord(VALID_BIZ));
      expect(result.licence).toEqual({
        licenceType: W009,
        licenceName: VALID_BIZ.name,
        licenceNumber: VALID_BIZ.number,
        licenceId: VALID_BIZ.licenceId,
        holderName: VALID_BIZ.holderName,
        issueDate: VALID_BIZ.issueDate,
        validFrom: VALID_BIZ.validFrom,
        jurisdictionCode: VALID_BIZ.jurisdictionCode,
      });
    });

    it('discloses only the catalogue fields of a restricted type', async () => {
      expect((await ask(h, forRecord(LISI))).result.licence).toEqual({ licenceType: W020, licenceNumber: LISI.number, validUntil: '2034-03-24' });
      expect((await ask(h, forRecord(ZHANG))).result.licence).toEqual({
        licenceType: W011,
        licenceName: '结婚证',
        licenceNumber: ZHANG.number,
        licenceId: ZHANG.licenceId,
        issueDate: ZHANG.issueDate,
      });
    });

    it('discloses the default three fields for a type the catalogue does not know', async () => {
      expect((await ask(h, forRecord(PROPERTY), HB)).result.licence).toEqual({ licenceType: W031, licenceNumber: PROPERTY.number, licenceId: PROPERTY.licenceId });
    });

    it('never discloses the holder name or code where the type does not allow it', async () => {
      const { result } = await ask(h, forRecord(ZHANG, { holder: holder({ name: '张三', idNumber: ZHANG.holderCode }) }));
      expect(JSON.stringify(result)).not.toContain('张三');
      expect(JSON.stringify(result)).not.toContain(ZHANG.holderCode);
      expect(Object.keys(result.licence!)).not.toContain('holderCode');
    });
  });

  describe('attestation', () => {
    it('binds the query id, status, requester, purpose and time', async () => {
      const q = forRecord(VALID_BIZ, { queryId: 'req-42', purpose: '  办理营业执照变更登记\n', holder: holder({ name: VALID_BIZ.holderName, creditCode: VALID_BIZ.holderCode }) });
      const { result, claims } = await ask(h, q, GD);
      expect(claims).toEqual({
        iss: BJ,
        aud: GD,
        jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
        iat: Math.floor(NOW.getTime() / 1000),
        rid: 'req-42',
        licenceType: W009,
        licenceNumber: VALID_BIZ.number,
        licenceId: VALID_BIZ.licenceId,
        status: 'VALID',
        holderMatch: { name: 'MATCH', code: 'MATCH' },
        purposeHash: createHash('sha256').update('办理营业执照变更登记', 'utf8').digest('base64url'),
        organCode: VALID_BIZ.issuerOrganCode,
        checkedAt: NOW.toISOString(),
      });
      expect(result.queryId).toBe('req-42');
      expect(result.refusalCode).toBe('');
      expect(result.checkedAt).toEqual({ seconds: String(Math.floor(NOW.getTime() / 1000)), nanos: 123_000_000 });
    });

    it('gives every answer its own attestation id and records it in the audit log', async () => {
      const results = await h.issuer.answer(GD, [forRecord(VALID_BIZ, { queryId: 'a' }), forRecord(LISI, { queryId: 'b' })], new Set());
      const jtis = await Promise.all(results.map(async (r) => (await h.attestations.check(r.attestation)).claims!.jti));
      expect(new Set(jtis).size).toBe(2);
      expect(h.audit.record.mock.calls.map(([r]) => r)).toEqual([
        { event: 'verification.answered', actor: GD, subject: W009, outcome: 'OK', reason: 'VALID', details: { queryId: 'a', attestation: jtis[0] } },
        { event: 'verification.answered', actor: GD, subject: W020, outcome: 'OK', reason: 'VALID', details: { queryId: 'b', attestation: jtis[1] } },
      ]);
    });
  });

  describe('licence-type policy', () => {
    const qs = [query({ licenceType: W009 }), query({ licenceType: W020 }), query({ licenceType: W011 }), query({ licenceType: W011 })];

    it('refusedTypes lists what a restricted peer may not ask', () => {
      expect(h.issuer.refusedTypes(GD, qs)).toEqual(new Set([W011]));
    });

    it('refusedTypes: a * peer and the issuer itself may ask anything; an unknown requester nothing', () => {
      expect(h.issuer.refusedTypes(HB, qs)).toEqual(new Set());
      expect(h.issuer.refusedTypes(BJ, qs)).toEqual(new Set());
      expect(h.issuer.refusedTypes(TJ, qs)).toEqual(new Set([W009, W020, W011]));
    });

    it('answer() refuses the refused types without looking them up, in request order', async () => {
      const queries = [forRecord(VALID_BIZ, { queryId: 'a' }), forRecord(ZHANG, { queryId: 'b' }), forRecord(LISI, { queryId: 'c' })];
      const results = await h.issuer.answer(GD, queries, h.issuer.refusedTypes(GD, queries));
      expect(results.map((r) => r.queryId)).toEqual(['a', 'b', 'c']);
      expect(results.map((r) => r.refusalCode)).toEqual(['', 'LICENCE_TYPE_NOT_ALLOWED', '']);
      expect(results[1]).toEqual({
        queryId: 'b',
        status: LicenceStatus.LICENCE_STATUS_UNSPECIFIED,
        nameMatch: MatchResult.MATCH_RESULT_UNSPECIFIED,
        codeMatch: MatchResult.MATCH_RESULT_UNSPECIFIED,
        licence: undefined,
        issuer: { province: BJ, organName: '', organCode: '' },
        checkedAt: undefined,
        attestation: '',
        refusalCode: 'LICENCE_TYPE_NOT_ALLOWED',
      });
      expect(h.lookup.calls).toEqual([`id:${VALID_BIZ.licenceId}`, `id:${LISI.licenceId}`]);
      expect(h.audit.record).toHaveBeenCalledWith({ event: 'verification.answered', actor: GD, subject: W011, outcome: 'REFUSED', reason: 'LICENCE_TYPE_NOT_ALLOWED', details: { queryId: 'b' } });
    });
  });

  describe('licence source unavailable (the province library)', () => {
    it('answers ISSUER_SOURCE_UNAVAILABLE per item, with no status and no attestation; the other queries are answered', async () => {
      const library = new MemoryLookup(DEMO);
      const findById = library.findById.bind(library);
      library.findById = async (id: string) => {
        if (id === LISI.licenceId) throw new LicenceSourceUnavailableError('TIMEOUT', 'the licence library did not answer within 1000 ms');
        return findById(id);
      };
      const hh = harness(DEMO, library);
      const results = await hh.issuer.answer(GD, [forRecord(VALID_BIZ, { queryId: 'a' }), forRecord(LISI, { queryId: 'b' })], new Set());
      expect(results[0]).toMatchObject({ status: LicenceStatus.LICENCE_STATUS_VALID, refusalCode: '' });
      expect(results[1]).toEqual({
        queryId: 'b',
        status: LicenceStatus.LICENCE_STATUS_UNSPECIFIED,
        nameMatch: MatchResult.MATCH_RESULT_UNSPECIFIED,
        codeMatch: MatchResult.MATCH_RESULT_UNSPECIFIED,
        licence: undefined,
        issuer: { province: BJ, organName: '', organCode: '' },
        checkedAt: undefined,
        attestation: '',
        refusalCode: 'ISSUER_SOURCE_UNAVAILABLE',
      });
      expect(hh.audit.record).toHaveBeenCalledWith({
        event: 'verification.answered',
        actor: GD,
        subject: W020,
        outcome: 'FAILED',
        reason: 'ISSUER_SOURCE_UNAVAILABLE',
        details: { queryId: 'b', source: 'TIMEOUT' },
      });
    });

    it('any other lookup error is not disguised as a source outage', async () => {
      const broken = { findById: async () => Promise.reject(new Error('bug')), findByNumber: async () => null } as unknown as LicenceLookup;
      await expect(harness(DEMO, broken).issuer.answer(GD, [forRecord(LISI)], new Set())).rejects.toThrow('bug');
    });
  });

  describe('validate', () => {
    const ok = (over: Partial<LicenceQuery> = {}) => forRecord(VALID_BIZ, over);
    const rejects = (queries: LicenceQuery[], message: RegExp) => {
      expect(() => h.issuer.validate(queries)).toThrow(MalformedQueryError);
      expect(() => h.issuer.validate(queries)).toThrow(message);
    };

    it('accepts a well-formed batch of 1 and of 100', () => {
      expect(() => h.issuer.validate([ok()])).not.toThrow();
      expect(() => h.issuer.validate(Array.from({ length: 100 }, (_, i) => ok({ queryId: `q${i}` })))).not.toThrow();
      expect(() => h.issuer.validate([query({ licenceNumber: 'N1', holder: holder({ name: '张三', idNumber: LISI.holderCode.toLowerCase() }) })])).not.toThrow();
    });

    it('rejects 0 and 101 queries', () => {
      rejects([], /between 1 and 100/);
      rejects(
        Array.from({ length: 101 }, () => ok()),
        /between 1 and 100/,
      );
    });

    it.each<[string, Partial<LicenceQuery>, RegExp]>([
      ['an empty query id', { queryId: '' }, /query_id/],
      ['a 65-character query id', { queryId: 'q'.repeat(65) }, /query_id/],
      ['a short licence type', { licenceType: '11100000000013338W09' }, /licence_type/],
      ['a lower-case licence type', { licenceType: '11100000000013338w009' }, /licence_type/],
      ['a licence type with I', { licenceType: '1110000000001333IW009' }, /licence_type/],
      ['neither id nor number', { licenceId: '', licenceNumber: '' }, /licence_id or licence_number/],
      ['a licence id with a wrong check character', { licenceId: VALID_BIZ.licenceId.slice(0, -1) + 'R' }, /licence_id fails/],
      ['a 65-character licence number', { licenceNumber: 'N'.repeat(65) }, /licence_number longer/],
      ['an empty purpose', { purpose: '' }, /purpose/],
      ['a blank purpose', { purpose: ' \t\n' }, /purpose/],
      ['a 201-character purpose', { purpose: '办'.repeat(201) }, /purpose/],
      ['a holder ID number with a wrong check character', { holder: holder({ idNumber: ZHANG.holderCode.slice(0, -1) + '7' }) }, /holder.id_number/],
      ['a holder credit code with a wrong check character', { holder: holder({ creditCode: VALID_BIZ.holderCode.slice(0, -1) + 'X' }) }, /holder.credit_code/],
      ['a lower-case holder credit code', { holder: holder({ creditCode: OTHER_BIZ.holderCode.toLowerCase() }) }, /holder.credit_code/],
      ['a 101-character holder name', { holder: holder({ name: '名'.repeat(101) }) }, /holder.name/],
    ])('rejects %s, naming the query index', (_name, over, message) => {
      rejects([ok(), ok(), ok(over)], message);
      rejects([ok(), ok(), ok(over)], /^queries\[2\]: /);
    });

    it('test data: the corrupted identifiers really are invalid', () => {
      expect(checkLicenceId(VALID_BIZ.licenceId.slice(0, -1) + 'R').ok).toBe(false);
      expect(checkCitizenId(ZHANG.holderCode.slice(0, -1) + '7').ok).toBe(false);
      expect(checkLicenceId(VALID_BIZ.licenceId).ok).toBe(true);
    });

    it('counts the purpose in characters after trimming: 200 are fine, emoji included', () => {
      expect(() => h.issuer.validate([ok({ purpose: ' ' + 'x'.repeat(200) + ' ' })])).not.toThrow();
      expect(() => h.issuer.validate([ok({ purpose: '办'.repeat(200) })])).not.toThrow();
      expect(() => h.issuer.validate([ok({ purpose: '😀'.repeat(200) })])).not.toThrow();
      expect(() => h.issuer.validate([ok({ purpose: '😀'.repeat(201) })])).toThrow(MalformedQueryError);
    });
  });

  it('test data: demo records are valid licence records', () => {
    for (const r of [VALID_BIZ, LISI, ZHANG, EXPIRED, SUSPENDED, REVOKED]) expect(licenceRecordSchema.safeParse(r).success).toBe(true);
  });
});
