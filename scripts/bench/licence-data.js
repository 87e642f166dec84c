'use strict';
// Synthetic licence records for the verification benchmark: deterministic (seeded), every
// identifier carries a valid check character (scripts/lib/check-characters.js, self-checked against
// the demo files before generating; the CLI import re-validates every record with the real library,
// so a drift fails the benchmark before anything is timed).
const fs = require('node:fs');
const path = require('node:path');
const { citizenCheck, creditCheck, licenceId, orgCodeCheck, prng, selfCheck } = require('../lib/check-characters');

const ROOT = path.resolve(__dirname, '..', '..');
const REGION = '110105'; // 北京市朝阳区
const PURPOSE = '跨省通办业务办理核验';

const pad = (n, w) => String(n).padStart(w, '0');

// Which word the licence number carries, and how long each type runs (null = no expiry).
const TYPE_STYLE = {
  '009': { word: '营', holder: 'company', organ: '北京市朝阳区市场监督管理局', years: [null, 20] },
  '011': { word: '婚', holder: 'citizen', organ: '北京市朝阳区民政局', years: [null] },
  '020': { word: '驾', holder: 'citizen', organ: '北京市公安局公安交通管理局朝阳支队', years: [6, 10] },
  '031': { word: '不动产权', holder: 'citizen', organ: '北京市规划和自然资源委员会朝阳分局', years: [null] },
};
const SURNAMES = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈';
const GIVEN = '伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞建国文斌宇浩晨欣怡雪梅立新海波';
const BRANDS = ['星河', '青松', '云帆', '启明', '长风', '远山', '清泉', '朝阳', '博远', '华章', '恒信', '瑞丰'];
const TRADES = ['科技', '商贸', '餐饮', '文化传媒', '建筑工程', '物流', '咨询', '信息技术'];

/**
 * `n` licence records of issuer 110000 in the shape of deploy/demo/licences-110000.json.
 * Status mix: ~94% VALID (some past their validUntil, i.e. EXPIRED), 3% SUSPENDED, 3% REVOKED.
 */
function generateLicences(n, seed = 110105) {
  return Array.from(licenceRecords(n, seed));
}

/** The records of generateLicences(n, seed), one at a time (for files too large to hold). */
function* licenceRecords(n, seed = 110105) {
  selfCheck();
  const rand = prng(seed);
  const int = (min, max) => min + Math.floor(rand() * (max - min + 1));
  const digits = (k) => {
    let s = '';
    for (let i = 0; i < k; i++) s += int(0, 9);
    return s;
  };
  const creditCode = (prefix) => {
    const org8 = '0' + digits(7);
    const body = prefix + REGION + org8 + orgCodeCheck(org8);
    return body + creditCheck(body);
  };
  const catalogue = JSON.parse(fs.readFileSync(path.join(ROOT, 'data', 'licence-types.json'), 'utf8')).types;
  const types = catalogue.map((t) => {
    const style = TYPE_STYLE[t.code.slice(18)];
    if (!style) throw new Error(`no style for type ${t.code}`);
    return { code: t.code, name: t.name, ...style, issuerCode: creditCode('11') }; // 1 = organ registry, 1 = state organ
  });
  for (let i = 0; i < n; i++) {
    const type = types[i % types.length];
    const issueYear = int(2005, 2025);
    const month = int(1, 12);
    const day = int(1, 28);
    // Serial: issue year + a 7-digit running number, unique per licence.
    const serial = `${issueYear}${pad(i, 7)}`;
    const version = '001';
    const issueDate = `${issueYear}-${pad(month, 2)}-${pad(day, 2)}`;
    const term = type.years[int(0, type.years.length - 1)];
    let holderName;
    let holderCode;
    if (type.holder === 'company') {
      holderName = `北京${BRANDS[int(0, BRANDS.length - 1)]}${pad(i, 6)}号${TRADES[int(0, TRADES.length - 1)]}有限公司`;
      holderCode = creditCode('91'); // 9 = market regulator, 1 = enterprise
    } else {
      holderName = SURNAMES[int(0, SURNAMES.length - 1)] + GIVEN[int(0, GIVEN.length - 1)] + (rand() < 0.5 ? GIVEN[int(0, GIVEN.length - 1)] : '');
      const birth = `${int(1950, issueYear - 22)}${pad(int(1, 12), 2)}${pad(int(1, 28), 2)}`;
      const b17 = REGION + birth + digits(3);
      holderCode = b17 + citizenCheck(b17);
    }
    const u = rand();
    yield {
      licenceId: licenceId(type.code, type.issuerCode, serial, version),
      typeCode: type.code,
      name: type.name,
      number: `京${type.word}字${serial}`,
      issuerOrganName: type.organ,
      issuerOrganCode: type.issuerCode,
      holderName,
      holderCode,
      holderCodeType: type.holder === 'company' ? '001' : '111',
      issueDate,
      validFrom: issueDate,
      validUntil: term === null ? null : `${issueYear + term}-${pad(month, 2)}-${pad(day, 2)}`,
      status: u < 0.03 ? 'SUSPENDED' : u < 0.06 ? 'REVOKED' : 'VALID',
      jurisdictionCode: REGION,
    };
  }
}

const CSV_FIELDS = [
  'licenceId',
  'typeCode',
  'name',
  'number',
  'issuerOrganName',
  'issuerOrganCode',
  'holderName',
  'holderCode',
  'holderCodeType',
  'issueDate',
  'validFrom',
  'validUntil',
  'status',
  'jurisdictionCode',
];

/**
 * Writes `n` generated records to `file` as a JSON array or a CSV with a header row, in chunks (never
 * the whole file in memory); `onRecord(i, record)` sees each record as it is written. Returns {records, bytes}.
 */
function writeLicenceFile(file, n, format = 'json', seed = 110105, onRecord = undefined) {
  const fd = fs.openSync(file, 'w');
  let bytes = 0;
  let buf = [];
  const out = (s) => {
    buf.push(s);
    if (buf.length >= 2000) flush();
  };
  const flush = () => {
    const text = buf.join('');
    buf = [];
    bytes += fs.writeSync(fd, text);
  };
  try {
    const cell = (v) => (v === null ? '' : /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
    out(format === 'csv' ? CSV_FIELDS.join(',') + '\n' : '[');
    let i = 0;
    for (const r of licenceRecords(n, seed)) {
      onRecord?.(i, r);
      out(format === 'csv' ? CSV_FIELDS.map((f) => cell(r[f])).join(',') + '\n' : (i ? ',\n' : '\n') + JSON.stringify(r));
      i++;
    }
    if (format !== 'csv') out('\n]\n');
    flush();
  } finally {
    fs.closeSync(fd);
  }
  return { records: n, bytes };
}

/** The status an issuer should report for a record today (Beijing calendar date). */
function expectedStatus(r, now = Date.now()) {
  if (r.status !== 'VALID') return r.status;
  const today = new Date(now + 8 * 3600_000).toISOString().slice(0, 10);
  return r.validUntil && r.validUntil < today ? 'EXPIRED' : 'VALID';
}

/** `POST /v1/verifications` body verifying `r` with its true holder (as libs/testkit verificationBody). */
function verificationBody(r) {
  const holder = r.holderCodeType === '111' ? { name: r.holderName, idNumber: r.holderCode } : { name: r.holderName, creditCode: r.holderCode };
  return { licenceType: r.typeCode, licenceId: r.licenceId, holder, purpose: PURPOSE };
}

/** Writes the records into a bare SQLite file: licences(licence_id TEXT PRIMARY KEY, ...). */
function buildBareDatabase(file, records) {
  const Database = require('better-sqlite3');
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`CREATE TABLE licences (
      licence_id TEXT PRIMARY KEY, type_code TEXT NOT NULL, name TEXT NOT NULL, number TEXT NOT NULL,
      issuer_organ_name TEXT NOT NULL, issuer_organ_code TEXT NOT NULL, holder_name TEXT NOT NULL,
      holder_code TEXT NOT NULL, holder_code_type TEXT NOT NULL, issue_date TEXT NOT NULL, valid_from TEXT NOT NULL,
      valid_until TEXT, status TEXT NOT NULL, jurisdiction_code TEXT NOT NULL)`);
    const insert = db.prepare(`INSERT INTO licences VALUES (@licenceId, @typeCode, @name, @number, @issuerOrganName, @issuerOrganCode,
      @holderName, @holderCode, @holderCodeType, @issueDate, @validFrom, @validUntil, @status, @jurisdictionCode)`);
    db.transaction((rows) => {
      for (const r of rows) insert.run(r);
    })(records);
  } finally {
    db.close();
  }
}

module.exports = { generateLicences, licenceRecords, writeLicenceFile, expectedStatus, verificationBody, buildBareDatabase, prng, PURPOSE };
