import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LibraryMappingError, libraryPath, loadLibraryMapping, mapLibraryChange, mapLibraryRecord, mapLibraryStatus, parseLibraryMapping, pick } from './library-mapping';

const ROOT = join(__dirname, '..', '..', '..', '..');
const MAPPING_FILE = join(ROOT, 'deploy', 'licence-library', 'stand-in-mapping.json');
const mapping = loadLibraryMapping(MAPPING_FILE);
const rawMapping = JSON.parse(readFileSync(MAPPING_FILE, 'utf8')) as Record<string, unknown>;

// A business licence of the 河北 demo data, as the stand-in library spells it.
const ZZ = {
  ZZBS: '1.2.156.3005.2.11100000000013338W009.111301020226975231.2023120385.001.H',
  ZZLXDM: '11100000000013338W009',
  ZZMC: '营业执照',
  ZZBH: '冀营字2023120385',
  ZZBFJG: '石家庄市长安区市场监督管理局',
  ZZBFJGDM: '111301020226975231',
  CZZT: '石家庄启明演示科技有限公司',
  CZZTDM: '91130102011632775L',
  CZZTDMLX: '统一社会信用代码',
  ZZBFRQ: '20230512',
  YXQQSRQ: '20230512',
  YXQJZRQ: '长期',
  ZZZT: '有效',
  XZQHDM: '130102',
};

describe('licence library mapping', () => {
  it('maps the library’s record to the GB/T 36903 fields: names, values, compact dates, 长期 = no expiry', () => {
    expect(mapLibraryRecord(ZZ, mapping)).toEqual({
      licenceId: ZZ.ZZBS,
      typeCode: '11100000000013338W009',
      name: '营业执照',
      number: '冀营字2023120385',
      issuerOrganName: '石家庄市长安区市场监督管理局',
      issuerOrganCode: '111301020226975231',
      holderName: '石家庄启明演示科技有限公司',
      holderCode: '91130102011632775L',
      holderCodeType: '001',
      issueDate: '2023-05-12',
      validFrom: '2023-05-12',
      validUntil: null,
      status: 'VALID',
      jurisdictionCode: '130102',
    });
    expect(mapLibraryRecord({ ...ZZ, ZZZT: '中止', YXQJZRQ: '20430512' }, mapping)).toMatchObject({ status: 'SUSPENDED', validUntil: '2043-05-12' });
    expect(mapLibraryRecord({ ...ZZ, ZZZT: '吊销' }, mapping).status).toBe('REVOKED');
  });

  it.each([
    [{ ...ZZ, ZZZT: '注销' }, /status \(ZZZT\) has a value the mapping does not list/],
    [{ ...ZZ, CZZTDMLX: '护照' }, /holderCodeType \(CZZTDMLX\) has a value the mapping does not list/],
    [(({ ZZBH: _n, ...rest }) => rest)(ZZ), /has no number \(ZZBH\)/],
    [{ ...ZZ, ZZBFRQ: '2023-05-12' }, /issueDate \(ZZBFRQ\) is not a YYYYMMDD date/],
    [{ ...ZZ, ZZBFRQ: '20230231' }, /issueDate: must be a calendar date/],
    [{ ...ZZ, CZZTDM: '91130102011632775X' }, /holderCode/],
    [{ ...ZZ, ZZLXDM: '11100000000013338W011' }, /typeCode: must equal the type code inside licenceId/],
    [{ ...ZZ, ZZMC: { text: '营业执照' } }, /name \(ZZMC\) is not a string/],
    ['not a record', /no record object/],
  ])('refuses a record that does not fit (%#), naming our field and never a value', (raw, message) => {
    let error: unknown;
    try {
      mapLibraryRecord(raw, mapping);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LibraryMappingError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('91130102011632775');
  });

  it('maps a feed entry', () => {
    expect(mapLibraryChange({ XH: 3, ZZBS: ZZ.ZZBS, ZZLXDM: ZZ.ZZLXDM, ZZZT: '吊销', BGSJ: '2026-12-03T01:02:03.000Z', BGYY: '违法经营' }, mapping)).toEqual({
      licenceId: ZZ.ZZBS,
      typeCode: ZZ.ZZLXDM,
      status: 'REVOKED',
      changedAt: new Date('2026-12-03T01:02:03.000Z'),
      reason: '违法经营',
    });
    expect(() => mapLibraryChange({ ZZBS: ZZ.ZZBS, ZZLXDM: ZZ.ZZLXDM, ZZZT: '吊销', BGSJ: 'yesterday' }, mapping)).toThrow(/changedAt is not a time/);
    expect(() => mapLibraryChange({ ZZBS: ZZ.ZZBS, ZZLXDM: 'x', ZZZT: '吊销', BGSJ: '2026-12-03T01:02:03Z' }, mapping)).toThrow(/typeCode/);
  });

  it('maps a record of the full listing to licence, type and status (only those are read)', () => {
    expect(mapLibraryStatus(ZZ, mapping)).toEqual({ licenceId: ZZ.ZZBS, typeCode: ZZ.ZZLXDM, status: 'VALID' });
    expect(mapLibraryStatus({ ZZBS: ZZ.ZZBS, ZZLXDM: ZZ.ZZLXDM, ZZZT: '中止' }, mapping)).toMatchObject({ status: 'SUSPENDED' });
    expect(() => mapLibraryStatus({ ZZBS: ZZ.ZZBS, ZZLXDM: ZZ.ZZLXDM, ZZZT: '注销' }, mapping)).toThrow(/status \(ZZZT\) has a value the mapping does not list/);
    expect(() => mapLibraryStatus({ ZZBS: ZZ.ZZBS, ZZLXDM: 'x', ZZZT: '有效' }, mapping)).toThrow(/typeCode/);
    expect(() => mapLibraryStatus({ ZZLXDM: ZZ.ZZLXDM, ZZZT: '有效' }, mapping)).toThrow(/licenceId is missing/);
    expect(() => mapLibraryStatus([ZZ], mapping)).toThrow(/not an object/);
  });

  it('fills request templates with URL-encoded values and reads dotted paths', () => {
    expect(libraryPath(mapping.lookup.byNumber, { typeCode: ZZ.ZZLXDM, number: '冀营字 1&2' })).toBe(`/dzzz/v1/zz?ZZLXDM=${ZZ.ZZLXDM}&ZZBH=${encodeURIComponent('冀营字 1&2')}`);
    expect(libraryPath(mapping.lookup.byId, { licenceId: 'a/b' })).toBe('/dzzz/v1/zz/a%2Fb');
    expect(pick({ data: { changes: [1] } }, 'data.changes')).toEqual([1]);
    expect(pick({ data: null }, 'data.changes')).toBeUndefined();
    expect(pick('x', '')).toBe('x');
  });

  it.each([
    [{ ...rawMapping, lookup: { byId: '/zz', byNumber: '/zz?t={typeCode}&n={number}' } }, /lookup\.byId: must hold \{licenceId\}/],
    [{ ...rawMapping, fields: { ...(rawMapping.fields as object), status: undefined } }, /fields\.status/],
    [{ ...rawMapping, values: { colour: {} } }, /values/],
    [{ ...rawMapping, dates: { format: 'DD.MM.YYYY' } }, /dates\.format/],
    [{ ...rawMapping, extra: 1 }, /\(top\)|extra/],
    [{ ...rawMapping, list: { ...(rawMapping.list as object), path: '/zzqd?limit={limit}' } }, /list\.path: must hold \{cursor\} and \{limit\}/],
    [{ ...rawMapping, list: { ...(rawMapping.list as object), feedCursor: undefined } }, /list\.feedCursor/],
    [{ ...rawMapping, feed: undefined }, /list: needs feed/],
  ])('refuses a mapping file that is wrong (%#), naming the field', (json, message) => {
    expect(() => parseLibraryMapping(json)).toThrow(message);
  });
});
