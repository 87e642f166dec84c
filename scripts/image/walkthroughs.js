'use strict';
// The README's tour (verification) and its 户口迁移 case walkthrough, as checks against running
// gateways (handles shaped like scripts/lib/federation.js's: code, baseUrl, apiToken, adminToken).
// Used by `npm run image:test` against the federation started from the container image.
const { readFileSync } = require('node:fs');
const path = require('node:path');
const { call } = require('../lib/federation');

const ROOT = path.resolve(__dirname, '..', '..');

function expect(cond, what, detail) {
  if (!cond) throw new Error(`${what}${detail === undefined ? '' : `: ${typeof detail === 'string' ? detail : JSON.stringify(detail).slice(0, 800)}`}`);
  console.log(`  ok  ${what}`);
}

/** A VALID demo licence issued by `code` and the request body that verifies it. */
function demoRequest(code) {
  const demo = JSON.parse(readFileSync(path.join(ROOT, 'deploy', 'demo', `licences-${code}.json`), 'utf8'));
  const l = demo.find((d) => d.status === 'VALID' && (!d.validUntil || d.validUntil > '2027'));
  const holder = l.holderCodeType === '111' ? { name: l.holderName, idNumber: l.holderCode } : { name: l.holderName, creditCode: l.holderCode };
  return { licenceType: l.typeCode, licenceId: l.licenceId, holder, purpose: '异地办理业务核验' };
}

const jwsHeader = (jws) => JSON.parse(Buffer.from(jws.split('.')[0], 'base64url').toString('utf8'));

/** Until `fn` returns a truthy value (polled), or fail after `ms`. */
async function until(what, fn, ms = 60000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** README tour steps 3–7: verification across provinces, attestations, a refused identifier, SM2. */
async function verificationWalkthrough(byCode) {
  const codes = Object.keys(byCode);
  for (const from of codes) {
    for (const issuer of codes) {
      if (issuer === from) continue;
      const r = await call(byCode[from], 'POST', '/v1/verifications', demoRequest(issuer));
      expect(
        r.status === 200 && r.body.status === 'VALID' && r.body.holderMatch?.name === 'MATCH' && r.body.issuer?.province === issuer,
        `${from} verifies a ${issuer} licence: VALID, holder MATCH, signed by ${issuer}`,
        r.body,
      );
      const alg = jwsHeader(r.body.attestation).alg;
      const peers = await call(byCode[from], 'GET', `/admin/peers/${issuer}`, undefined, byCode[from].adminToken);
      const keyAlgs = (peers.body.keys || []).map((k) => k.alg);
      expect(keyAlgs.includes(alg), `  its attestation is ${alg}, a key ${from} holds for ${issuer}`, peers.body);
      const checked = await call(byCode[from], 'POST', '/v1/attestations/verify', { attestation: r.body.attestation });
      expect(checked.status === 200 && checked.body.valid === true, '  the attestation verifies offline', checked.body);
    }
  }
  const [from, issuer] = [codes[codes.length - 1], codes[0]];
  const bad = demoRequest(issuer);
  bad.licenceId = bad.licenceId.slice(0, -1) + (bad.licenceId.endsWith('A') ? 'B' : 'A');
  const refused = await call(byCode[from], 'POST', '/v1/verifications', bad);
  expect(refused.status === 400 && refused.body.error?.field === 'licenceId', `${from}: a broken check character is refused 400 on field licenceId`, refused.body);
  const batch = await call(byCode[from], 'POST', '/v1/verifications/batch', { items: codes.filter((c) => c !== from).map(demoRequest) });
  expect(batch.status === 200 && batch.body.results?.every((x) => x.status === 'VALID'), `${from}: a batch over the other provinces is all VALID`, batch.body);
}

/** README's 户口迁移 walkthrough: `dest` accepts and registers, `origin` de-registers. */
async function caseWalkthrough(dest, origin) {
  const opened = await call(dest, 'POST', '/v1/cases', {
    itemCode: 'HUKOU_WORK_TRANSFER',
    applicant: { name: '张三', idNumber: '11010519491231002X' },
    participants: { DESTINATION: dest.code, ORIGIN: origin.code },
    materials: [{ code: 'HOUSEHOLD_REGISTER' }, { code: 'RESIDENT_ID_CARD' }, { code: 'TRANSFER_PROOF', form: 'PAPER' }],
    receivedAt: { office: '政务服务中心', clerk: '王窗口', channel: 'WINDOW' },
  });
  expect(opened.status === 201 && opened.body.state === 'OPEN', `${dest.code} opens a 户口迁移 case with ${origin.code} as origin`, opened.body);
  const c = opened.body.collaborationId;
  const step0 = await call(dest, 'POST', `/v1/tasks/${c}~0/complete`, { outputs: { approval_no: '准迁字2026第001号' } });
  expect(step0.status === 200, `${dest.code} approves (step 0)`, step0.body);
  await until(`${origin.code} to receive step 1`, async () => {
    const r = await call(origin, 'GET', '/v1/tasks?status=ASSIGNED');
    return r.status === 200 && r.body.tasks.some((t) => t.id === `${c}~1`);
  });
  const step1 = await call(origin, 'POST', `/v1/tasks/${c}~1/complete`, { outputs: { migration_certificate_no: '迁字2026000123' } });
  expect(step1.status === 200, `${origin.code} receives the task over gRPC and de-registers (step 1)`, step1.body);
  await until(`${dest.code} to receive step 2`, async () => {
    const r = await call(dest, 'GET', `/v1/cases/${c}`);
    return r.status === 200 && r.body.steps?.[2]?.status === 'ASSIGNED';
  });
  const step2 = await call(dest, 'POST', `/v1/tasks/${c}~2/complete`, { outputs: { registered_on: '2026-11-27' } });
  expect(step2.status === 200, `${dest.code} registers (step 2)`, step2.body);
  for (const gw of [dest, origin]) {
    const done = await until(`the case COMPLETED at ${gw.code}`, async () => {
      const r = await call(gw, 'GET', `/v1/cases/${c}`);
      return r.status === 200 && r.body.state === 'COMPLETED' && r.body;
    });
    expect(done.state === 'COMPLETED', `the case is COMPLETED at ${gw.code}`);
  }
  return c;
}

module.exports = { expect, until, demoRequest, verificationWalkthrough, caseWalkthrough };
