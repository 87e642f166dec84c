import { Browser, Page } from 'playwright-core';
import { FakePeer, Gateway, call, demoLicence, verificationBody } from '@tongban/testkit';
import type { AuditBody } from '../support/bodies';
import { waitFor } from '../support/wait';
import { consolePage, fetchFromPage, launchChromium, openPage, signIn, startConsoleFederation, startUnimplementedPeer } from './console-harness';

// The admin console in a real browser (Debian's Chromium, driven by playwright-core) against three
// real gateways over mutual TLS, plus 天津 whose endpoint answers every call UNIMPLEMENTED (a
// permanent failure: its messages become dead letters). 北京's console is the one under test;
// 广东's has a 4-second session lifetime for the expiry check.
const BJ = '110000';
const HB = '130000';
const GD = '440000';
const TJ = '120000';
const FAST = { TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50', TONGBAN_DELIVERY_BACKOFF_CAP_MS: '400', TONGBAN_DELIVERY_POLL_MS: '100', TONGBAN_DELIVERY_DEAD_AFTER_FAILURES: '2' };

type Key = { kid: string; status: string };
let gws: Record<string, Gateway>;
let tianjin: { endpoint: string; stop: () => Promise<void> };
let browser: Browser;
let page: Page;
let problems: string[];

const verify = (from: Gateway, issuer: string) => call<{ error?: { code: string; reason?: string } }>(from, 'POST', '/v1/verifications', verificationBody(demoLicence(issuer, 'VALID')));
const audit = async (gw: Gateway, event: string) => (await call<AuditBody>(gw, 'GET', `/admin/audit?event=${event}&limit=1000`, undefined, gw.adminToken)).body.events;

beforeAll(async () => {
  [gws, tianjin, browser] = await Promise.all([
    startConsoleFederation({ [BJ]: FAST, [HB]: FAST, [GD]: { ...FAST, TONGBAN_CONSOLE_ABSOLUTE_TIMEOUT_S: '4' } }),
    startUnimplementedPeer(TJ),
    launchChromium(),
  ]);
  ({ page, problems } = await consolePage(browser, gws[BJ]));
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await tianjin?.stop();
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
});

afterEach(() => {
  // No script error and no Content-Security-Policy violation on any page the test visited.
  expect(problems).toEqual([]);
});

it('is served self-contained under a strict CSP, refuses a bad token and signs an admin in', async () => {
  const res = await page.goto('/console/');
  expect(res?.status()).toBe(200);
  expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
  // Everything the page loaded came from the gateway itself.
  const hosts = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).host));
  expect(new Set(hosts)).toEqual(new Set([new URL(gws[BJ].baseUrl).host]));
  await page.getByLabel('管理客户端令牌').fill('not-a-token');
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByRole('alert').filter({ hasText: '令牌无效' }).waitFor();
  await signIn(page, gws[BJ].adminToken);
  await page.getByRole('heading', { level: 1, name: '总览' }).waitFor();
  expect(await page.getByTestId('who').textContent()).toContain('管理员');
});

it('adds 天津 from a pasted JWK Set', async () => {
  const tj = await FakePeer.create(TJ);
  await openPage(page, '对端');
  await page.getByRole('button', { name: '添加对端' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('行政区划代码').fill(TJ);
  await dialog.getByLabel('地址').fill(tianjin.endpoint);
  await dialog.getByLabel('公钥（JWK Set）').fill(JSON.stringify({ keys: [tj.jwk()] }));
  await dialog.getByRole('button', { name: '添加对端' }).click();
  await page.locator(`tr[data-row="${TJ}"]`).waitFor();
  expect((await call(gws[BJ], 'GET', `/admin/peers/${TJ}`, undefined, gws[BJ].adminToken)).status).toBe(200);
});

it('rotates the key and shows the announcement delivered to both peers; they trust the new key', async () => {
  const before = (await call<{ keys: Key[] }>(gws[BJ], 'GET', '/admin/keys', undefined, gws[BJ].adminToken)).body.keys.map((k) => k.kid);
  await openPage(page, '密钥');
  await page.getByTestId('rotate').click();
  await page.getByLabel('重叠期（小时）').fill('0');
  await page.getByRole('button', { name: '确认轮换' }).click();
  await page.getByRole('status').filter({ hasText: '已开始轮换' }).waitFor();
  const fresh = (await call<{ keys: Key[] }>(gws[BJ], 'GET', '/admin/keys', undefined, gws[BJ].adminToken)).body.keys.find((k) => !before.includes(k.kid))!;
  await page.locator('tr', { hasText: fresh.kid }).getByText('启用').waitFor();
  // The per-peer announcement table (polled every 3 s) turns to delivered for 河北 and 广东.
  for (const peer of [HB, GD]) await page.locator(`#announcements tr[data-row="${peer}"]`).getByText('已投递').first().waitFor({ timeout: 30_000 });
  for (const peer of [HB, GD]) {
    const keys = (await call<{ keys: Key[] }>(gws[peer], 'GET', `/admin/peers/${BJ}`, undefined, gws[peer].adminToken)).body.keys;
    expect(keys.find((k) => k.kid === fresh.kid)?.status).toBe('ACTIVE');
  }
  expect((await audit(gws[BJ], 'admin.key.rotated')).length).toBeGreaterThanOrEqual(1);
});

it('re-queues the dead announcement to 天津 from the dead letters tab', async () => {
  const dead = await waitFor(
    'the announcement to 天津 parked as DEAD',
    async () => (await call<{ messages: { id: string; peer: string }[] }>(gws[BJ], 'GET', '/admin/outbox?status=DEAD', undefined, gws[BJ].adminToken)).body.messages,
    (ms) => ms.some((m) => m.peer === TJ),
    30_000,
  );
  const id = dead.find((m) => m.peer === TJ)!.id;
  await openPage(page, '投递');
  await page.getByRole('tab', { name: '死信' }).click();
  await page.locator(`tr[data-row="${id}"]`).getByRole('button', { name: '重新投递' }).click();
  await page.getByRole('status').filter({ hasText: '已重新放入队列' }).waitFor();
  const requeued = await audit(gws[BJ], 'admin.outbox.requeued');
  expect(requeued.map((e) => e.subject)).toContain(id);
});

it('suspends 河北: its verification at 北京 is refused; resuming lets it through again', async () => {
  expect((await verify(gws[HB], BJ)).status).toBe(200);
  await openPage(page, '对端');
  await page.locator(`tr[data-row="${HB}"]`).getByRole('link').click();
  await page.getByTestId('suspend').click();
  await page.getByTestId('peer-status').getByText('已暂停').waitFor();
  const refused = await verify(gws[HB], BJ);
  expect([refused.status, refused.body.error?.code, refused.body.error?.reason]).toEqual([403, 'ISSUER_REFUSED', 'PEER_SUSPENDED']);
  await page.getByTestId('resume').click();
  await page.getByTestId('peer-status').getByText('启用').waitFor();
  expect((await verify(gws[HB], BJ)).status).toBe(200);
});

it('refuses a state change from the page without the CSRF token', async () => {
  const r = await fetchFromPage(page, 'POST', '/admin/keys/rotate', {}, { overlapHours: 1 });
  expect(r.status).toBe(403);
  expect(r.body).toContain('CSRF_TOKEN_INVALID');
});

it('an auditor sees no write controls, and a forged POST from the auditor’s session is refused', async () => {
  // Created in the console: the token is shown once.
  await openPage(page, '客户端');
  await page.getByRole('button', { name: '创建客户端' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('名称').fill('console-auditor');
  await dialog.getByLabel('类型').selectOption('ADMIN');
  await dialog.getByLabel('角色').selectOption('auditor');
  await dialog.getByRole('button', { name: '创建客户端' }).click();
  const token = (await page.getByTestId('new-token').locator('code').textContent())!.trim();

  const auditor = await consolePage(browser, gws[BJ]);
  try {
    await signIn(auditor.page, token);
    expect(await auditor.page.getByTestId('who').textContent()).toContain('审计员');
    await openPage(auditor.page, '密钥');
    await auditor.page.getByRole('table').first().waitFor();
    expect(await auditor.page.getByRole('button', { name: /轮换|吊销/ }).count()).toBe(0);
    await openPage(auditor.page, '对端');
    expect(await auditor.page.getByRole('button', { name: '添加对端' }).count()).toBe(0);
    await auditor.page.locator(`tr[data-row="${HB}"]`).getByRole('link').click();
    await auditor.page.getByTestId('peer-status').waitFor();
    expect(await auditor.page.getByRole('button', { name: /暂停|恢复|修改策略/ }).count()).toBe(0);
    await openPage(auditor.page, '投递');
    await auditor.page.getByRole('tab', { name: '死信' }).click();
    await auditor.page.getByRole('tabpanel').getByRole('table').waitFor();
    expect(await auditor.page.getByRole('button', { name: '重新投递' }).count()).toBe(0);
    await openPage(auditor.page, '客户端');
    expect(await auditor.page.getByRole('button', { name: /创建客户端|停用/ }).count()).toBe(0);
    // A script in the auditor's page that holds the session's CSRF token still cannot act.
    const csrf = await auditor.page.evaluate(async () => ((await (await fetch('/console/api/session')).json()) as { csrfToken: string }).csrfToken);
    const forged = await fetchFromPage(auditor.page, 'POST', '/admin/keys/rotate', { 'X-CSRF-Token': csrf }, { overlapHours: 1 });
    expect(forged.status).toBe(403);
    expect(forged.body).not.toContain('CSRF_TOKEN_INVALID');
    expect(auditor.problems).toEqual([]);
  } finally {
    await auditor.context.close();
  }
});

it('a session ends at its absolute lifetime: the next action lands on the sign-in page', async () => {
  const gd = await consolePage(browser, gws[GD]);
  try {
    // Taken before signing in: the session starts during signIn, so at least 4 s pass from here.
    const signedInAt = Date.now();
    await signIn(gd.page, gws[GD].adminToken);
    // Keep using the console until the gateway ends the session (4 s after sign-in).
    await waitFor(
      'the expired-session notice',
      async () => {
        if (await gd.page.getByTestId('expired').isVisible()) return true;
        await openPage(gd.page, (await gd.page.getByRole('heading', { level: 1 }).textContent()) === '密钥' ? '总览' : '密钥').catch(() => undefined);
        return gd.page.getByTestId('expired').isVisible();
      },
      (v) => v,
      20_000,
    );
    expect(Date.now() - signedInAt).toBeGreaterThanOrEqual(3_500);
    expect((await fetchFromPage(gd.page, 'GET', '/console/api/session').catch(() => ({ status: 0 }))).status).not.toBe(200);
  } finally {
    await gd.context.close();
  }
});
