#!/usr/bin/env node
'use strict';
// npm run console:screenshots — starts 北京, 河北 and 广东 (mutual TLS from a throw-away local CA, demo
// licences), makes a little traffic (verifications, a refusal, a key rotation with overlap), signs in
// to 北京's console in Debian's Chromium (/usr/bin/chromium, playwright-core) and captures every page
// at 1280 px into docs/console/*.png (plus the overview at 768 px). Needs `npm run build` first and a
// CJK font for the Chinese text (Debian: fonts-wqy-microhei or fonts-noto-cjk).
const { mkdtempSync, mkdirSync, rmSync } = require('node:fs');
const { createServer } = require('node:net');
const { tmpdir } = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const fed = require('./lib/federation');

const OUT = path.join(fed.ROOT, 'docs', 'console');
const CODES = ['110000', '130000', '440000'];
const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'tongban-console-shots-'));
  const pki = fed.localPki(path.join(dir, 'pki'), CODES, fed.newPkiSecrets());
  const options = [];
  for (const code of CODES)
    options.push({ code, dir: path.join(dir, code), secrets: fed.newSecrets(), tls: pki[code], httpPort: await freePort(), grpcPort: await freePort(), env: { TONGBAN_DELIVERY_POLL_MS: '200' } });
  for (const o of options) {
    const r = await fed.runCli(o, ['licences', 'import', path.join(fed.ROOT, 'deploy', 'demo', `licences-${o.code}.json`)]);
    if (r.code !== 0) throw new Error(`demo import for ${o.code} failed: ${r.stderr}`);
  }
  const gws = await Promise.all(options.map((o) => fed.startGateway(o)));
  let browser;
  try {
    await fed.connectAll(gws);
    const [bj, hb, gd] = gws;
    await traffic(bj, hb, gd);
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    const context = await browser.newContext({ baseURL: bj.baseUrl, viewport: { width: 1280, height: 860 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    const page = await context.newPage();
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    const shot = async (name) => {
      await page.waitForLoadState('networkidle');
      await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });
      console.log(`docs/console/${name}.png`);
    };
    await page.goto('/console/');
    await page.getByLabel('管理客户端令牌').waitFor();
    await shot('00-sign-in');
    await page.getByLabel('管理客户端令牌').fill(bj.adminToken);
    await page.getByRole('button', { name: '登录' }).click();
    await page.getByRole('heading', { level: 1, name: '总览' }).waitFor();
    await shot('01-overview');
    const pages = [
      ['02-keys', '密钥'],
      ['03-peers', '对端'],
      ['05-directory', '目录'],
      ['06-audit', '审计'],
      ['07-delivery', '投递'],
      ['08-cases', '督办'],
      ['09-clients', '客户端'],
    ];
    for (const [file, name] of pages) {
      await page.getByRole('navigation', { name: '主导航' }).getByRole('link', { name, exact: true }).click();
      await page.getByRole('heading', { level: 1, name }).waitFor();
      if (name === '审计') {
        await page.getByTestId('verify-chain').click();
        await page.getByTestId('verdict').waitFor();
      }
      await shot(file);
      if (name === '对端') {
        await page.locator('tr[data-row="130000"]').getByRole('link').click();
        await page.getByTestId('peer-status').waitFor();
        await shot('04-peer-detail');
      }
    }
    await page.setViewportSize({ width: 768, height: 1000 });
    await page.getByRole('navigation', { name: '主导航' }).getByRole('link', { name: '总览', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: '总览' }).waitFor();
    await shot('10-overview-768');
  } finally {
    await browser?.close();
    await Promise.all(gws.map((g) => g.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Verifications between the provinces, one refusal (河北 briefly suspended at 北京) and a rotation with 24 h overlap. */
async function traffic(bj, hb, gd) {
  const licence = require(path.join(fed.ROOT, 'deploy', 'demo', 'licences-110000.json'));
  const first = (Array.isArray(licence) ? licence : licence.licences)[0];
  const holder = first.holderCodeType === '111' ? { name: first.holderName, idNumber: first.holderCode } : { name: first.holderName, creditCode: first.holderCode };
  const body = { licenceType: first.typeCode, licenceId: first.licenceId, holder, purpose: '跨省通办业务办理核验' };
  for (let i = 0; i < 20; i++) await Promise.all([fed.call(hb, 'POST', '/v1/verifications', body, hb.apiToken), fed.call(gd, 'POST', '/v1/verifications', body, gd.apiToken)]);
  await fed.call(bj, 'PATCH', '/admin/peers/130000', { status: 'SUSPENDED' }, bj.adminToken);
  await fed.call(hb, 'POST', '/v1/verifications', body, hb.apiToken);
  await fed.call(bj, 'PATCH', '/admin/peers/130000', { status: 'ACTIVE' }, bj.adminToken);
  await fed.call(bj, 'POST', '/admin/keys/rotate', { overlapHours: 24 }, bj.adminToken);
  await fed.call(bj, 'POST', '/admin/clients', { kind: 'ADMIN', name: 'provincial-auditor', role: 'auditor' }, bj.adminToken);
  await new Promise((r) => setTimeout(r, 2000)); // let the announcements reach the peers before the pictures
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
