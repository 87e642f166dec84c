import { readFileSync } from 'node:fs';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { Browser, BrowserContext, Page, chromium } from 'playwright-core';
import { Gateway, GatewayOptions, TestPki, connectAll, gatewayOptions, importDemoLicences, startGateway } from '@tongban/testkit';

/** Debian's Chromium (apt-get install chromium); nothing is downloaded. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}

/** Gateways for `codes` (each with its own extra environment), demo licences, all trusting each other. */
export async function startConsoleFederation(env: Record<string, Record<string, string>>): Promise<Record<string, Gateway>> {
  const options: GatewayOptions[] = await Promise.all(Object.entries(env).map(([code, e]) => gatewayOptions(code, { env: e })));
  await Promise.all(options.map(importDemoLicences));
  const list = await Promise.all(options.map(startGateway));
  await connectAll(list);
  return Object.fromEntries(list.map((g) => [g.code, g]));
}

/**
 * A peer that answers every federation call with gRPC UNIMPLEMENTED (a server with no service):
 * a permanent failure, so messages to it end as dead letters. Mutual TLS with a certificate for `code`.
 */
export async function startUnimplementedPeer(code: string): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const pki = await TestPki.get();
  const id = await pki.identity(code);
  const ca = readFileSync((await pki.filesFor(code)).caFile);
  const server = new Server();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createSsl(ca, [{ private_key: id.key, cert_chain: id.cert }], true), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { endpoint: `localhost:${port}`, stop: () => new Promise<void>((r) => server.tryShutdown(() => r())) };
}

/** A page on `gw`'s console with every browser-side error collected (a CSP violation is one). */
export async function consolePage(browser: Browser, gw: Gateway): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ baseURL: gw.baseUrl, viewport: { width: 1280, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // A 401/403/404 answered to fetch is logged by Chromium as a failed resource: expected in these tests.
    if (m.type() === 'error' && !/status of 40[134]/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.setDefaultTimeout(20_000);
  return { context, page, problems };
}

export async function signIn(page: Page, token: string): Promise<void> {
  await page.goto('/console/');
  await page.getByLabel('管理客户端令牌').fill(token);
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByRole('navigation', { name: '主导航' }).waitFor();
}

export async function openPage(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: '主导航' }).getByRole('link', { name, exact: true }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
}

/** A same-origin fetch from inside the page (what a forged request from a script there could send). */
export function fetchFromPage(page: Page, method: string, path: string, headers: Record<string, string> = {}, body: unknown = {}): Promise<{ status: number; body: string }> {
  return page.evaluate(
    async ([m, p, h, b]) => {
      const send = m !== 'GET' && m !== 'HEAD';
      const r = await fetch(p, { method: m, headers: send ? { 'content-type': 'application/json', ...h } : h, body: send ? JSON.stringify(b) : undefined, credentials: 'same-origin' });
      return { status: r.status, body: await r.text() };
    },
    [method, path, headers, body] as const,
  );
}
