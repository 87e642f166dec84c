import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway, GatewayOptions, TestPki, call, demoLicence, gatewayOptions, importDemoLicences, runCli, startGateway, verificationBody } from '@tongban/testkit';
import type { AuditBody } from './support/bodies';
import { cliOk, directoryEntry, publishDirectory } from './support/directory';
import { waitFor, waitForOutput } from './support/wait';

// A live roll of the national trust anchor from Ed25519 to 国密 SM2, done the way docs/operations.md
// §17.8 tells operators to: new key offline, every province adds it next to the old one (a JWK Set in
// TONGBAN_DIRECTORY_ANCHOR) and restarts, the national platform signs the next directory with the
// new key, provinces drop the old key. The federation is mixed (Ed25519, SM2 and ES256 gateways) and
// keeps verifying licences across every pair throughout; no gateway ever refuses the directory
// until the retired key signs one, which every gateway then refuses.
const BJ = '110000';
const HB = '130000';
const GD = '440000';
const ALG: Record<string, string> = { [BJ]: 'EdDSA', [HB]: 'SM2SM3', [GD]: 'ES256' };
const NAMES: Record<string, string> = { [BJ]: '北京市', [HB]: '河北省', [GD]: '广东省' };
const CODES = Object.keys(ALG);
const PAIRS = CODES.flatMap((a) => CODES.filter((b) => b !== a).map((b) => [a, b] as const));

let dir: string;
let cli: GatewayOptions;
let gws: Record<string, Gateway>;
let serial = 0;
const file = (name: string) => join(dir, name);
const source = () => file('directory.jws');
const kidOf = (name: string) => (JSON.parse(readFileSync(file(name), 'utf8')) as { kid: string }).kid;

type DirectoryView = { mode: string; serial: number | null; lastError: { reason: string } | null; anchorKid: string; anchorKids: string[]; [more: string]: unknown };
const directoryOf = async (code: string) => (await call<DirectoryView>(gws[code], 'GET', '/admin/directory', undefined, gws[code].adminToken)).body;
const auditOf = async (code: string, event: string) => (await call<AuditBody>(gws[code], 'GET', `/admin/audit?event=${event}&limit=1000`, undefined, gws[code].adminToken)).body.events;
const peerCodes = async (code: string) =>
  (await call<{ peers: { code: string; endpoint: string }[] }>(gws[code], 'GET', '/admin/peers', undefined, gws[code].adminToken)).body.peers.map((p) => `${p.code}@${p.endpoint}`).sort();

/** The directory of the three running gateways, next serial, signed with `key` and published at the source. */
async function publish(key: string, endpoints: Record<string, string> = {}): Promise<number> {
  const tlsCa = (await TestPki.get()).caPem;
  const participants = await Promise.all(CODES.map((c) => directoryEntry(gws[c], NAMES[c], { tlsCa, endpoint: endpoints[c] ?? gws[c].grpcEndpoint })));
  await publishDirectory(cli, { format: 'tongban-directory/1', serial: ++serial, participants } as { serial: number }, { dir, key: file(key), source: source() });
  return serial;
}

const everyGatewayUses = (s: number) =>
  Promise.all(
    CODES.map((c) =>
      waitFor(
        `${c} uses directory serial ${s}`,
        () => directoryOf(c),
        (d) => d.serial === s,
      ),
    ),
  );

const ROUND_MS = 200;

/**
 * Verifications across every ordered pair, round after round, skipping a gateway that is being
 * restarted (`down`); every answer is kept. `pause` waits for the round in flight to end first.
 */
class Traffic {
  readonly seen: { pair: string; status: number; error?: string }[] = [];
  private down: string | null = null;
  private stopped = false;
  private round: Promise<unknown> = Promise.resolve();
  private readonly loop: Promise<void>;

  constructor() {
    this.loop = (async () => {
      while (!this.stopped) {
        const pairs = PAIRS.filter(([a, b]) => a !== this.down && b !== this.down);
        this.round = Promise.all(
          pairs.map(async ([asker, issuer]) => {
            const r = await call(gws[asker], 'POST', '/v1/verifications', verificationBody(demoLicence(issuer, 'VALID'))).catch((e: Error) => ({ status: 0, error: e.message }));
            this.seen.push({ pair: `${asker}→${issuer}`, status: r.status, ...('error' in r ? { error: r.error } : {}) });
          }),
        );
        await this.round;
        // Paced (a round of 6 calls, then ROUND_MS) so that the load leaves the 2-core CI box the CPU the restarts need.
        await new Promise((r) => setTimeout(r, ROUND_MS));
      }
    })();
  }

  async pause(code: string): Promise<void> {
    this.down = code;
    await this.round;
  }

  resume(): void {
    this.down = null;
  }

  async stop(): Promise<{ pair: string; status: number; error?: string }[]> {
    this.stopped = true;
    this.down = null;
    await this.loop;
    return this.seen;
  }
}

/** What a province does: point TONGBAN_DIRECTORY_ANCHOR at `anchor` and restart, while the others keep calling. */
async function restartWithAnchor(traffic: Traffic, code: string, anchor: string): Promise<void> {
  await traffic.pause(code);
  const options = gws[code].options;
  await gws[code].stop();
  const started = await startGateway({ ...options, env: { ...options.env, TONGBAN_DIRECTORY_ANCHOR: anchor } });
  gws[code] = started;
  // A step that timed out must not leave a gateway running after the suite's afterAll.
  if (finished) await started.stop();
  traffic.resume();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tongban-e2e-anchor-roll-'));
  const env = { TONGBAN_DIRECTORY_ANCHOR: file('anchor-ed25519.pub.jwk'), TONGBAN_DIRECTORY_SOURCE: source(), TONGBAN_DIRECTORY_REFRESH_S: '1' };
  const options = await Promise.all(CODES.map((c) => gatewayOptions(c, { env: { ...env, TONGBAN_SIGNING_ALG: ALG[c] } })));
  cli = options[0];
  await cliOk(cli, ['directory', 'keygen', '--out', file('anchor-ed25519.jwk'), '--public-out', file('anchor-ed25519.pub.jwk')]);
  await Promise.all(options.map(importDemoLicences));
  const list = await Promise.all(options.map(startGateway));
  gws = Object.fromEntries(list.map((g) => [g.code, g]));
  // The federation runs on a directory signed by the Ed25519 anchor; trust comes from it alone.
  await publish('anchor-ed25519.jwk');
  await everyGatewayUses(serial);
  for (const c of CODES)
    await waitFor(
      `${c} trusts both others`,
      () => peerCodes(c),
      (ps) => ps.length === 2,
    );
}, 90_000);

let traffic: Traffic | undefined;
let oldKid: string;
let newKid: string;
let sm2Serial: number;
let finished = false;
/** directory.refused rows each gateway had before the roll (the UNREACHABLE at boot, before the first directory existed). */
const refusedBefore: Record<string, number> = {};
const refusedSinceRoll = async (c: string) => (await auditOf(c, 'directory.refused')).slice(refusedBefore[c]);

afterAll(async () => {
  finished = true;
  await traffic?.stop();
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
});

it('the federation runs on an Ed25519-signed directory; verifications start across every pair', async () => {
  oldKid = kidOf('anchor-ed25519.pub.jwk');
  for (const c of CODES) {
    expect(await directoryOf(c)).toMatchObject({ mode: 'ok', serial: 1, lastError: null, anchorKids: [oldKid] });
    refusedBefore[c] = (await auditOf(c, 'directory.refused')).length;
  }
  traffic = new Traffic();
});

it('1–2. a new SM2 anchor key; each province adds it next to the old one and restarts, serving at once from its stored directory', async () => {
  // The key ceremony, offline: a new SM2 anchor key.
  const printed = JSON.parse(await cliOk(cli, ['directory', 'keygen', '--alg', 'SM2SM3', '--out', file('anchor-sm2.jwk'), '--public-out', file('anchor-sm2.pub.jwk')])) as Record<string, string>;
  expect(printed).toMatchObject({ kty: 'EC', crv: 'SM2', alg: 'SM2SM3' });
  newKid = kidOf('anchor-sm2.pub.jwk');
  // Overlap: TONGBAN_DIRECTORY_ANCHOR = {"keys": [old, new]}, one province at a time. A restarted
  // gateway serves at once from its stored (Ed25519-signed) directory.
  const both = { keys: [JSON.parse(readFileSync(file('anchor-ed25519.pub.jwk'), 'utf8')), JSON.parse(readFileSync(file('anchor-sm2.pub.jwk'), 'utf8'))] as unknown };
  writeFileSync(file('anchor-set.json'), JSON.stringify(both, null, 2));
  expect(await cliOk(cli, ['directory', 'verify', '--anchor', file('anchor-set.json'), source()])).toMatch(new RegExp(`serial\\s+1\\n[\\s\\S]*anchor\\s+${oldKid}[\\s\\S]*VALID now`));
  for (const c of CODES) {
    await restartWithAnchor(traffic!, c, file('anchor-set.json'));
    expect(await directoryOf(c)).toMatchObject({ mode: 'ok', serial: 1, lastError: null, anchorKids: [oldKid, newKid] });
    await waitForOutput(gws[c], `directory mode: anchor ${oldKid} + ${newKid}`);
    expect(gws[c].output()).not.toMatch(/does not verify with the configured anchor/);
    expect(await peerCodes(c)).toHaveLength(2);
  }
}, 180_000);

it('3. the national platform signs the next directory with SM2: every gateway applies it and records the SM2 anchor', async () => {
  sm2Serial = await publish('anchor-sm2.jwk');
  expect(JSON.parse(Buffer.from(readFileSync(source(), 'utf8').split('.')[0], 'base64url').toString())).toMatchObject({ alg: 'SM2SM3', kid: newKid });
  expect(await cliOk(cli, ['directory', 'verify', '--anchor', file('anchor-set.json'), source()])).toMatch(new RegExp(`serial\\s+${sm2Serial}\\n[\\s\\S]*anchor\\s+${newKid}[\\s\\S]*VALID now`));
  await everyGatewayUses(sm2Serial);
  for (const c of CODES) {
    const applied = (await auditOf(c, 'directory.applied')).at(-1)!;
    expect(applied).toMatchObject({ subject: `serial ${sm2Serial}`, outcome: 'OK' });
    expect(typeof applied.details === 'string' ? JSON.parse(applied.details) : applied.details).toMatchObject({ anchor: newKid });
    expect(await directoryOf(c)).toMatchObject({ mode: 'ok', lastError: null });
  }
});

it('4. provinces drop the old key and restart: the stored SM2-signed directory still verifies; nothing was ever refused', async () => {
  for (const c of CODES) {
    await restartWithAnchor(traffic!, c, file('anchor-sm2.pub.jwk'));
    expect(await directoryOf(c)).toMatchObject({ mode: 'ok', serial: sm2Serial, lastError: null, anchorKid: newKid, anchorKids: [newKid] });
    expect(gws[c].output()).not.toMatch(/does not verify with the configured anchor/);
  }
  // Throughout the overlap and the switch, no gateway refused the directory.
  for (const c of CODES) expect(await refusedSinceRoll(c)).toEqual([]);
}, 180_000);

it('5. a directory signed with the retired Ed25519 key is refused everywhere (NOT_ANCHOR_KEY); trust and calls are unchanged', async () => {
  const before = Object.fromEntries(await Promise.all(CODES.map(async (c) => [c, await peerCodes(c)] as const)));
  // A higher serial that would move 北京 to an attacker's endpoint.
  const forged = await publish('anchor-ed25519.jwk', { [BJ]: 'attacker.example:9011' });
  for (const c of CODES) {
    const refused = await waitFor(
      `${c} refuses serial ${forged} signed by the retired key`,
      () => refusedSinceRoll(c),
      (es) => es.length > 0,
    );
    expect(refused).toEqual([expect.objectContaining({ reason: 'NOT_ANCHOR_KEY', details: expect.stringContaining(`signed by key ${oldKid}, not by the trust anchor ${newKid}`) })]);
    expect(await directoryOf(c)).toMatchObject({ mode: 'ok', serial: sm2Serial, lastError: { reason: 'NOT_ANCHOR_KEY' } });
    expect(await peerCodes(c)).toEqual(before[c]);
  }
  const verify = await runCli(cli, ['directory', 'verify', '--anchor', file('anchor-sm2.pub.jwk'), source()]);
  expect(verify.code).not.toBe(0);
  expect(verify.stderr).toMatch(/NOT_ANCHOR_KEY/);
});

it('verifications ran across every pair during the whole roll, and none failed; the SM2 anchor goes on', async () => {
  const seen = await traffic!.stop();
  for (const [a, b] of PAIRS) expect(seen.filter((s) => s.pair === `${a}→${b}`).length).toBeGreaterThan(3);
  expect(seen.filter((s) => s.status !== 200)).toEqual([]);
  const next = await publish('anchor-sm2.jwk');
  await everyGatewayUses(next);
  for (const c of CODES) expect(await directoryOf(c)).toMatchObject({ mode: 'ok', lastError: null });
});
