import { spawnSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { gatewayOptions, runCli } from '@tongban/testkit';

// `tongban licences import` streams its file: a file too large to hold in the CLI's heap imports
// anyway. The control run shows the cap is real: the same heap cannot read the file whole and parse it.
interface LicenceData {
  writeLicenceFile(file: string, n: number, format?: 'json' | 'csv'): { records: number; bytes: number };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the benchmarks' CommonJS generator (valid check characters), typed above
const data = require('../scripts/bench/licence-data.js') as LicenceData;

const RECORDS = 120_000; // ~59 MB of JSON, ~110 MB as a JavaScript string
const HEAP_CAP_MIB = 48;

jest.setTimeout(300_000);

it(`imports ${RECORDS} records from a JSON file larger than the CLI's ${HEAP_CAP_MIB} MiB heap`, async () => {
  const o = await gatewayOptions('110000', { env: { NODE_OPTIONS: `--max-old-space-size=${HEAP_CAP_MIB}` } });
  const file = join(o.dir, 'licences.json');
  try {
    data.writeLicenceFile(file, RECORDS, 'json');
    expect(statSync(file).size).toBeGreaterThan(HEAP_CAP_MIB * 2 ** 20);

    const whole = spawnSync(process.execPath, [`--max-old-space-size=${HEAP_CAP_MIB}`, '-e', `JSON.parse(require('node:fs').readFileSync(${JSON.stringify(file)}, 'utf8'))`], {
      encoding: 'utf8',
    });
    expect(whole.status).not.toBe(0);
    expect(whole.stderr).toMatch(/heap out of memory|Invalid string length/);

    const r = await runCli(o, ['licences', 'import', file]);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: `read ${RECORDS}, created ${RECORDS}, updated 0\n` });
    expect(r.stderr).toMatch(/importing: \d+ records \(\d+% of the file read\)/);

    const db = new Database(join(o.dir, `tongban-${o.code}.sqlite`), { readonly: true });
    try {
      expect(db.prepare('SELECT COUNT(*) AS n FROM licences').get()).toEqual({ n: RECORDS });
    } finally {
      db.close();
    }
  } finally {
    rmSync(o.dir, { recursive: true, force: true });
  }
});
