#!/usr/bin/env node
'use strict';
// Writes deterministic demo licence files to deploy/demo/ (run: node scripts/gen-demo-data.js).
// Every holder is fictitious. Check characters come from scripts/lib/check-characters.js (plain Node
// cannot load the TS lib); libs/identifiers/src/demo-data.spec.ts re-validates every generated
// identifier with the real library, so drift is caught there.
const fs = require('node:fs');
const path = require('node:path');
const { citizenCheck, creditCheck, licenceId, orgCodeCheck, prng } = require('./lib/check-characters');

const OUT_DIR = path.join(__dirname, '..', 'deploy', 'demo');
const DEFINER = '11100000000013338W'; // the defining ministry's credit code, prefix of every type code

const TYPES = {
  business: { code: `${DEFINER}009`, name: '营业执照', word: '营', holder: 'company' },
  marriage: { code: `${DEFINER}011`, name: '结婚证', word: '婚', holder: 'citizen' },
  driving: { code: `${DEFINER}020`, name: '驾驶证', word: '驾', holder: 'citizen' },
  property: { code: `${DEFINER}031`, name: '不动产权证书', word: '不动产权', holder: 'citizen' },
};

// Organ names mirror real authorities; their credit codes are synthetic and belong to no real organ.
const PROVINCES = [
  {
    code: '110000',
    abbr: '京',
    city: '北京',
    districts: ['110105', '110108', '110101'],
    organs: {
      business: ['北京市朝阳区市场监督管理局', '110105'],
      marriage: ['北京市朝阳区民政局', '110105'],
      driving: ['北京市公安局公安交通管理局', '110000'],
      property: ['北京市规划和自然资源委员会朝阳分局', '110105'],
    },
  },
  {
    code: '130000',
    abbr: '冀',
    city: '石家庄',
    districts: ['130102', '130104', '130105'],
    organs: {
      business: ['石家庄市长安区市场监督管理局', '130102'],
      marriage: ['石家庄市长安区民政局', '130102'],
      driving: ['石家庄市公安局交通管理局', '130100'],
      property: ['石家庄市自然资源和规划局', '130100'],
    },
  },
  {
    code: '440000',
    abbr: '粤',
    city: '广州',
    districts: ['440106', '440104', '440305'],
    organs: {
      business: ['广州市天河区市场监督管理局', '440106'],
      marriage: ['广州市天河区民政局', '440106'],
      driving: ['广州市公安局交通警察支队', '440100'],
      property: ['广州市规划和自然资源局', '440100'],
    },
  },
];

// [type, status, term]: term 'none' = no expiry, 'future' = ends 2031 or later, 'past' = ended in 2022.
const PLAN = [
  ['business', 'VALID', 'none'],
  ['business', 'VALID', 'future'],
  ['marriage', 'VALID', 'none'],
  ['driving', 'VALID', 'future'],
  ['driving', 'VALID', 'future'],
  ['property', 'VALID', 'none'],
  ['property', 'VALID', 'none'],
  ['marriage', 'VALID', 'none'],
  ['driving', 'VALID', 'past'],
  ['business', 'VALID', 'past'],
  ['driving', 'SUSPENDED', 'future'],
  ['business', 'REVOKED', 'none'],
];

// [name, sex] with 1 = male, 0 = female (GB 11643: odd sequence digit is male).
const PEOPLE = [
  ['张三', 1],
  ['李四', 1],
  ['王五', 1],
  ['赵六', 1],
  ['孙小红', 0],
  ['周丽', 0],
  ['吴芳', 0],
  ['郑伟', 1],
  ['陈静', 0],
  ['刘洋', 1],
  ['黄婷', 0],
  ['林峰', 1],
  ['何雪', 0],
  ['马超然', 1],
  ['高敏', 0],
  ['罗成', 1],
  ['梁燕', 0],
  ['宋立', 1],
  ['谢娜娜', 0],
  ['韩冬', 1],
  ['唐诗', 0],
  ['冯远', 1],
  ['许晴', 0],
  ['邓明', 1],
];
const BRANDS = ['星河', '青松', '云帆', '启明', '长风', '远山', '清泉', '朝阳'];
const TRADES = ['科技', '商贸', '餐饮', '文化传媒', '建筑工程', '物流'];

const pad = (n, width) => String(n).padStart(width, '0');
const isoDate = (y, m, d) => `${y}-${pad(m, 2)}-${pad(d, 2)}`;

function generateProvince(province, provinceIndex) {
  const rand = prng(Number(province.code));
  const int = (min, max) => min + Math.floor(rand() * (max - min + 1));
  const pick = (list) => list[int(0, list.length - 1)];
  const digits = (n) => Array.from({ length: n }, () => int(0, 9)).join('');
  const creditCode = (prefix, region) => {
    const org8 = '0' + digits(7);
    const body = prefix + region + org8 + orgCodeCheck(org8);
    return body + creditCheck(body);
  };
  const issuers = {};
  for (const [key, [name, region]] of Object.entries(province.organs)) {
    issuers[key] = { name, region, code: creditCode('11', region) }; // 1 = organ registry, 1 = state organ
  }
  const serials = new Set();
  let person = provinceIndex * 8;
  let company = provinceIndex * 3;

  return PLAN.map(([typeKey, status, term]) => {
    const type = TYPES[typeKey];
    const issuer = issuers[typeKey];
    const month = int(1, 12);
    const day = int(1, 28); // avoids 29 February when adding whole years
    const termYears = typeKey === 'driving' ? 10 : 20;
    const issueYear = term === 'past' ? 2022 - termYears : term === 'future' ? int(2021, 2024) : int(2016, 2024);
    let serial;
    do serial = `${issueYear}${pad(int(1, 999999), 6)}`;
    while (serials.has(serial));
    serials.add(serial);

    let holderName;
    let holderCode;
    if (type.holder === 'company') {
      const region = issuer.region; // a company registers with the market regulator that licenses it
      holderName = `${province.city}${BRANDS[company++ % BRANDS.length]}演示${pick(TRADES)}有限公司`;
      holderCode = creditCode('91', region); // 9 = market regulator, 1 = enterprise
    } else {
      // Born at least 22 years before issue: the minimum marriage age, and well past driving age.
      const [name, sex] = PEOPLE[person++ % PEOPLE.length];
      const birth = `${int(1960, issueYear - 22)}${pad(int(1, 12), 2)}${pad(int(1, 28), 2)}`;
      const body = pick(province.districts) + birth + digits(2) + (int(0, 4) * 2 + sex);
      holderName = name;
      holderCode = body + citizenCheck(body);
    }

    const version = '001';
    const issueDate = isoDate(issueYear, month, day);
    return {
      licenceId: licenceId(type.code, issuer.code, serial, version),
      typeCode: type.code,
      name: type.name,
      number: `${province.abbr}${type.word}字${serial}`,
      issuerOrganName: issuer.name,
      issuerOrganCode: issuer.code,
      holderName,
      holderCode,
      holderCodeType: type.holder === 'company' ? '001' : '111',
      issueDate,
      validFrom: issueDate,
      validUntil: term === 'none' ? null : isoDate(issueYear + termYears, month, day),
      status,
      jurisdictionCode: issuer.region,
    };
  });
}

function kindOf(record) {
  if (record.status !== 'VALID') return record.status;
  return record.validUntil !== null && record.validUntil < '2025-01-01' ? 'EXPIRED' : 'VALID';
}

function readme(files) {
  const lines = [
    '# Demo licence data',
    '',
    'Generated by `node scripts/gen-demo-data.js` (seeded, deterministic: re-running rewrites identical files). Do not edit by hand.',
    '',
    '- **All holders are made up.** Names, citizen ID numbers and company credit codes are synthetic; they carry valid',
    '  check characters (GB 11643 / GB 32100) but identify no real person or company.',
    '- Issuer organ names mirror real authorities, but their credit codes are synthetic and belong to no real organ.',
    '- Licence identifiers follow GB/T 36904-2018 with a valid ISO/IEC 7064 MOD 37,36 check character.',
    '- `EXPIRED` below means `status` is `VALID` but `validUntil` has passed (2022); consumers must compare dates.',
    '  `VALID` examples run to 2031 or later, or have no expiry (`validUntil: null`).',
    '- `libs/identifiers/src/demo-data.spec.ts` re-checks every identifier in these files with the identifiers library.',
    '',
    'Holder code types: `111` = citizen ID number, `001` = unified social credit code.',
    '',
  ];
  for (const { province, file, records } of files) {
    lines.push(`## ${file} (${province.abbr}, ${province.code})`, '');
    lines.push('| Kind | licenceId | typeCode | number | holder name | holder id |', '| --- | --- | --- | --- | --- | --- |');
    for (const kind of ['VALID', 'EXPIRED', 'SUSPENDED', 'REVOKED']) {
      const r = records.find((x) => kindOf(x) === kind);
      lines.push(`| ${kind} | \`${r.licenceId}\` | \`${r.typeCode}\` | ${r.number} | ${r.holderName} | \`${r.holderCode}\` |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

function main() {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const files = PROVINCES.map((province, i) => {
    const file = `licences-${province.code}.json`;
    const records = generateProvince(province, i);
    fs.writeFileSync(path.join(OUT_DIR, file), JSON.stringify(records, null, 2) + '\n');
    return { province, file, records };
  });
  fs.writeFileSync(path.join(OUT_DIR, 'README.md'), readme(files));
  for (const { file, records } of files) console.log(`wrote deploy/demo/${file} (${records.length} records)`);
  console.log('wrote deploy/demo/README.md');
}

main();
