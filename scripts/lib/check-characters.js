'use strict';
// Check characters of the identifiers the scripts generate (demo data, benchmark and simulation
// licences), for plain Node scripts that cannot load the TypeScript libs/identifiers. One copy for
// every script: `selfCheck()` compares it with the committed demo files, and the CLI import
// re-validates every generated record with the real library, so a drift fails loudly.
const fs = require('node:fs');
const path = require('node:path');

const LICENCE_ROOT = '1.2.156.3005.2';
const CREDIT = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DEMO_DIR = path.resolve(__dirname, '..', '..', 'deploy', 'demo');

/** GB 11643 / ISO 7064 MOD 11-2 over the first 17 digits of a citizen ID number. */
function citizenCheck(b17) {
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  let s = 0;
  for (let i = 0; i < 17; i++) s += (b17.charCodeAt(i) - 48) * w[i];
  return '10X98765432'[s % 11];
}
/** GB 32100 (MOD 31); a check value of 31 is written 0. */
function creditCheck(b17) {
  let s = 0;
  let w = 1;
  for (const c of b17) {
    s += CREDIT.indexOf(c) * w;
    w = (w * 3) % 31;
  }
  return CREDIT[(31 - (s % 31)) % 31];
}
/** GB 11714 organisation-code check (positions 9-17 of a credit code). */
function orgCodeCheck(b8) {
  const w = [3, 7, 9, 10, 5, 8, 4, 2];
  let s = 0;
  for (let i = 0; i < 8; i++) s += Number(b8[i]) * w[i];
  const c = 11 - (s % 11);
  return c === 10 ? 'X' : c === 11 ? '0' : String(c);
}
/** ISO/IEC 7064 hybrid MOD 37,36 over type‖issuer‖serial‖version (GB/T 36904). */
function licenceCheck(body) {
  let p = 36;
  for (const c of body) p = (((p + ALNUM.indexOf(c)) % 36 || 36) * 2) % 37;
  return ALNUM[(((1 - p) % 36) + 36) % 36];
}
/** A GB/T 36904 licence identifier with its check character. */
function licenceId(typeCode, issuer, serial, version = '001') {
  return [LICENCE_ROOT, typeCode, issuer, serial, version, licenceCheck(typeCode + issuer + serial + version)].join('.');
}

/** mulberry32: tiny seeded PRNG, so generated data is the same on every run. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Throws if these functions disagree with the committed demo licences (drift guard). */
function selfCheck() {
  for (const file of fs.readdirSync(DEMO_DIR).filter((f) => /^licences-\d+\.json$/.test(f))) {
    for (const r of JSON.parse(fs.readFileSync(path.join(DEMO_DIR, file), 'utf8'))) {
      const [type, issuer, serial, version, check] = r.licenceId.split('.').slice(5);
      if (licenceCheck(type + issuer + serial + version) !== check) throw new Error(`licence check drift on ${r.licenceId}`);
      if (creditCheck(issuer.slice(0, 17)) !== issuer[17]) throw new Error(`credit check drift on ${issuer}`);
      const h = r.holderCode;
      if (r.holderCodeType === '111' ? citizenCheck(h.slice(0, 17)) !== h[17] : creditCheck(h.slice(0, 17)) !== h[17]) throw new Error(`holder check drift on ${h}`);
    }
  }
}

module.exports = { LICENCE_ROOT, citizenCheck, creditCheck, orgCodeCheck, licenceCheck, licenceId, prng, selfCheck };
