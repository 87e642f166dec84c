import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { Clock, ValidationException } from '@tongban/common';
import { buildLicenceId, parseLicenceId } from '@tongban/identifiers';
import { buildDataSource, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { DbLicenceLookup } from './db-licence-lookup';
import { LicenceImporter } from './licence-importer.service';
import { LicenceRecord } from './licence-record';
import { LicenceEntity } from './licence.entity';

jest.setTimeout(60_000);

class TestClock extends Clock {
  constructor(private t = Date.UTC(2025, 3, 1, 0, 0, 0)) {
    super();
  }
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

const DEMO_FILE = join(__dirname, '..', '..', '..', 'deploy', 'demo', 'licences-110000.json');
const DEMO = JSON.parse(readFileSync(DEMO_FILE, 'utf8')) as LicenceRecord[];
const FIELDS = Object.keys(DEMO[0]) as (keyof LicenceRecord)[];

const tempDir = () => mkdtempSync(join(tmpdir(), 'tongban-import-'));

function csvOf(records: LicenceRecord[]): string {
  const cell = (v: string | number | null | undefined) => {
    const s = v == null ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [FIELDS.join(','), ...records.map((r) => FIELDS.map((f) => cell(r[f])).join(','))].join('\n') + '\n';
}

/** `n` valid records derived from demo record 0 by varying the serial (and recomputing the check character). */
function generated(n: number, prefix = '7'): LicenceRecord[] {
  const base = DEMO[0];
  const { typeCode, issuerCode, version } = parseLicenceId(base.licenceId);
  return Array.from({ length: n }, (_, i) => {
    const serial = `${prefix}${String(i).padStart(9, '0')}`;
    return { ...base, licenceId: buildLicenceId({ typeCode, issuerCode, serial, version }), number: `京营字${serial}` };
  });
}

/** Changes the check character (last char) of a licence id to a wrong one. */
function breakCheckChar(id: string): string {
  const last = id[id.length - 1];
  return id.slice(0, -1) + (last === '0' ? '1' : '0');
}

async function validationError(p: Promise<unknown>): Promise<ValidationException> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ValidationException);
  return e as ValidationException;
}

describeEachDatabase('LicenceImporter', (fresh) => {
  let ds: DataSource;
  let clock: TestClock;
  let importer: LicenceImporter;
  const rows = async () => (await ds.getRepository(LicenceEntity).find({ order: { licenceId: 'ASC' } })).map(({ updatedAt: _u, ...r }) => ({ ...r }));
  const count = () => ds.getRepository(LicenceEntity).count();
  const sorted = (records: LicenceRecord[]) => [...records].sort((a, b) => (a.licenceId < b.licenceId ? -1 : 1));

  beforeEach(async () => {
    clock = new TestClock();
    ds = await openDatabase(buildDataSource(fresh(), [LicenceEntity]));
    importer = new LicenceImporter(ds, clock);
  });

  afterEach(async () => {
    if (ds?.isInitialized) await ds.destroy();
  });

  it('imports the demo JSON, and re-importing it updates without duplicating', async () => {
    expect(DEMO).toHaveLength(12);
    expect(await importer.importFile(DEMO_FILE)).toEqual({ read: 12, created: 12, updated: 0 });
    expect(await count()).toBe(12);
    expect(await rows()).toEqual(sorted(DEMO));
    const t1 = clock.now().getTime();
    expect((await ds.getRepository(LicenceEntity).find()).every((r) => r.updatedAt.getTime() === t1)).toBe(true);

    clock.advance(3_600_000);
    expect(await importer.importFile(DEMO_FILE)).toEqual({ read: 12, created: 0, updated: 12 });
    expect(await count()).toBe(12);
    expect(await rows()).toEqual(sorted(DEMO));
    expect((await ds.getRepository(LicenceEntity).find()).every((r) => r.updatedAt.getTime() === t1 + 3_600_000)).toBe(true);
  });

  it('re-import applies changed values; {"licences": [...]} is accepted too', async () => {
    await importer.importFile(DEMO_FILE);
    const changed = DEMO.map((r, i) => (i === 2 ? { ...r, status: 'REVOKED' as const } : r));
    const file = join(tempDir(), 'wrapped.json');
    writeFileSync(file, JSON.stringify({ licences: changed }));
    expect(await importer.importFile(file)).toEqual({ read: 12, created: 0, updated: 12 });
    expect((await ds.getRepository(LicenceEntity).findOneByOrFail({ licenceId: DEMO[2].licenceId })).status).toBe('REVOKED');
    expect(await rows()).toEqual(sorted(changed));
  });

  it('a CSV of the same records (empty validUntil = null) gives the same rows', async () => {
    expect(DEMO.some((r) => r.validUntil === null)).toBe(true);
    const file = join(tempDir(), 'licences.csv');
    writeFileSync(file, '\uFEFF' + csvOf(DEMO));
    expect(await importer.importFile(file)).toEqual({ read: 12, created: 12, updated: 0 });
    expect(await rows()).toEqual(sorted(DEMO));
    expect((await ds.getRepository(LicenceEntity).find()).filter((r) => r.validUntil === null)).toHaveLength(DEMO.filter((r) => r.validUntil === null).length);

    // The JSON of the same records then only updates.
    expect(await importer.importFile(DEMO_FILE)).toEqual({ read: 12, created: 0, updated: 12 });
    expect(await count()).toBe(12);
  });

  it('a file with one bad licence id is refused, naming records[5].licenceId, and nothing is written', async () => {
    await importer.importFile(DEMO_FILE);
    const before = await rows();
    // Records 0-4 are new and valid; if anything were written before validation ended they would show.
    const fresh5 = generated(5);
    const bad = [...fresh5, { ...DEMO[0], licenceId: breakCheckChar(DEMO[0].licenceId), name: 'changed' }, ...generated(3, '8')];
    const file = join(tempDir(), 'bad.json');
    writeFileSync(file, JSON.stringify(bad));

    const e = await validationError(importer.importFile(file));
    expect(e.details.field).toBe('records[5].licenceId');
    expect(e.details.rule).toBe('GBT36904_CHECK_CHARACTER');
    expect(await count()).toBe(12);
    expect(await rows()).toEqual(before);

    // Same through CSV.
    const csv = join(tempDir(), 'bad.csv');
    writeFileSync(csv, csvOf(bad));
    expect((await validationError(importer.importFile(csv))).details.field).toBe('records[5].licenceId');
    expect(await count()).toBe(12);
  });

  it('refuses a licenceId that appears twice in one file (rule DUPLICATE) and writes nothing', async () => {
    const records = [...generated(4), DEMO[3], DEMO[1], DEMO[3]];
    const e = await validationError(importer.importRecords(records));
    expect(e.details).toEqual({ field: 'records[6].licenceId', rule: 'DUPLICATE' });
    expect(await count()).toBe(0);
  });

  it('reports other invalid fields with their record index', async () => {
    const e = await validationError(importer.importRecords([DEMO[0], { ...DEMO[1], validUntil: '2001-01-01' }]));
    expect(e.details).toEqual({ field: 'records[1].validUntil', rule: 'DATE_ORDER' });
    const f = await validationError(importer.importRecords([{ ...DEMO[0], extra: 1 }]));
    expect(f.details.field).toBe('records[0]');
    expect(f.details.rule).toBe('UNKNOWN_FIELD');
    const bad = join(tempDir(), 'bad.json');
    writeFileSync(bad, '{not json');
    expect((await validationError(importer.importFile(bad))).details).toEqual({ field: 'file', rule: 'JSON' });
    expect(await count()).toBe(0);
  });

  it('DbLicenceLookup finds by id and by (typeCode, number), and returns null otherwise', async () => {
    await importer.importFile(DEMO_FILE);
    const lookup = new DbLicenceLookup(ds);
    for (const r of [DEMO[0], DEMO[2], DEMO[11]]) {
      expect(await lookup.findById(r.licenceId)).toEqual(r);
      expect(await lookup.findByNumber(r.typeCode, r.number)).toEqual(r);
    }
    const found = await lookup.findById(DEMO[0].licenceId);
    expect(found).not.toHaveProperty('updatedAt');
    expect(await lookup.findById(breakCheckChar(DEMO[0].licenceId))).toBeNull();
    expect(await lookup.findById('')).toBeNull();
    expect(await lookup.findByNumber(DEMO[0].typeCode, DEMO[0].number + '0')).toBeNull();
    // The number exists, but under another type.
    expect(await lookup.findByNumber(DEMO[2].typeCode, DEMO[0].number)).toBeNull();
  });

  it('calls the progress callback with (done, share read), ending at (n, 1)', async () => {
    const calls: [number, number][] = [];
    await importer.importFile(DEMO_FILE, (done, fraction) => calls.push([done, fraction]));
    expect(calls).toEqual([[12, 1]]);

    const many: [number, number][] = [];
    await importer.importRecords(generated(1234), (d, f) => many.push([d, f]));
    expect(many).toEqual([
      [500, 500 / 1234],
      [1000, 1000 / 1234],
      [1234, 1],
    ]);
  });

  it('streams a JSON file: elements split across read chunks, escapes, a wrapper with other members', async () => {
    // 3,000 records (~1.5 MB) span several 256 KiB reads, so elements and strings cross chunk edges.
    const records = generated(3000).map((r, i) => (i % 7 === 0 ? { ...r, holderName: `${r.holderName}"\\}]{[,` } : r));
    const file = join(tempDir(), 'wrapped.json');
    writeFileSync(file, `{"note": {"a": [1, "]}"]}, "licences": ${JSON.stringify(records, null, 1)}, "after": "x"}`);
    expect(await importer.importFile(file)).toEqual({ read: 3000, created: 3000, updated: 0 });
    expect(await rows()).toEqual(sorted(records));
  });

  it('refuses malformed JSON and files without a licence array, writing nothing', async () => {
    const cases: [string, string][] = [
      ['', 'JSON'],
      ['[', 'JSON'],
      ['[{"a":1},]', 'JSON'],
      ['[{"a":1} {"b":2}]', 'JSON'],
      ['[1] x', 'JSON'],
      ['{"licences": [{"a":1]}', 'JSON'],
      ['5', 'SHAPE'],
      ['{"other": []}', 'SHAPE'],
      ['{"licences": 5}', 'SHAPE'],
    ];
    for (const [text, rule] of cases) {
      const file = join(tempDir(), 'x.json');
      writeFileSync(file, text);
      const e = await validationError(importer.importFile(file));
      expect([text, e.details]).toEqual([text, { field: 'file', rule }]);
    }
    const csv = join(tempDir(), 'x.csv');
    writeFileSync(csv, `${FIELDS.join(',')}\na,b\n`);
    expect((await validationError(importer.importFile(csv))).details).toEqual({ field: 'file', rule: 'CSV' });
    // The message says where the fault is, never what the file holds there (it may be an ID number).
    const secret = join(tempDir(), 'secret.json');
    writeFileSync(secret, `[{"holderCode": "11010519491231002X", oops}]`);
    const e = await validationError(importer.importFile(secret));
    expect(e.message).toBe('file: not valid JSON (records[0] is malformed)');
    expect(await count()).toBe(0);
  });

  it('refuses a licenceId repeated in a later batch (DUPLICATE, counted across the whole file) and writes nothing', async () => {
    const records = generated(1200);
    records.push({ ...records[3], number: '京营字dup' });
    const file = join(tempDir(), 'dup.csv');
    writeFileSync(file, csvOf(records));
    expect((await validationError(importer.importFile(file))).details).toEqual({ field: 'records[1200].licenceId', rule: 'DUPLICATE' });
    expect(await count()).toBe(0);
    // The same ids import once the repeat is gone (the seen-ids table did not outlive the failed import).
    writeFileSync(file, csvOf(records.slice(0, 1200)));
    expect(await importer.importFile(file)).toEqual({ read: 1200, created: 1200, updated: 0 });
    expect(await importer.importFile(file)).toEqual({ read: 1200, created: 0, updated: 1200 });
  });

  it('imports 5,000 generated records in one call', async () => {
    const records = generated(5000);
    expect(new Set(records.map((r) => r.licenceId)).size).toBe(5000);
    const progress: [number, number][] = [];
    expect(await importer.importRecords(records, (d, t) => progress.push([d, t]))).toEqual({ read: 5000, created: 5000, updated: 0 });
    expect(progress).toHaveLength(10);
    expect(progress[progress.length - 1]).toEqual([5000, 1]);
    expect(await count()).toBe(5000);
    const lookup = new DbLicenceLookup(ds);
    expect(await lookup.findById(records[4999].licenceId)).toEqual(records[4999]);
    expect(await lookup.findByNumber(records[2500].typeCode, records[2500].number)).toEqual(records[2500]);

    // Re-import with the demo file added: only the demo records are new.
    expect(await importer.importRecords([...records, ...DEMO])).toEqual({ read: 5012, created: 12, updated: 5000 });
    expect(await count()).toBe(5012);
  });

  it('rolls the whole import back when the database refuses a later batch', async () => {
    await importer.importFile(DEMO_FILE);
    const before = await rows();
    // 600 valid records; the last reuses (typeCode, number) of the first under another id, which
    // only the unique index (type_code, number) catches, in the second batch of 500.
    const records = generated(600);
    records[599] = { ...records[599], number: records[0].number };
    await expect(importer.importRecords(records)).rejects.toThrow();
    expect(await count()).toBe(12);
    expect(await rows()).toEqual(before);
  });
});
