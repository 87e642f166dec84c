import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { generateAnchorKey, signDirectory } from './directory-signer';
import { checkFreshness, loadAnchor, verifyDirectory } from './directory-verifier';

// The `tongban directory` commands (apps/cli wires them): run by the national platform's
// administrators on an offline machine. They need no gateway config or database.

/** What a command prints: stdout, stderr notes, and the exit code. */
export interface CommandOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

function readJson(file: string, what: string, inline = false): Record<string, unknown> {
  try {
    return JSON.parse(inline && file.trim().startsWith('{') ? file : readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${what} ${file.slice(0, 200)} cannot be read as JSON: ${(e as Error).message}`);
  }
}

function writeNew(file: string, text: string, mode?: number): void {
  try {
    writeFileSync(file, text, { flag: 'wx', ...(mode ? { mode } : {}) });
  } catch (e) {
    throw new Error((e as NodeJS.ErrnoException).code === 'EEXIST' ? `${file} exists already: not overwritten` : (e as Error).message);
  }
}

/** `directory keygen`: writes the anchor's private JWK (mode 0600, never over a file) and prints the public JWK. */
export function anchorKeygenCommand(o: { out: string; publicOut?: string; alg?: string }): CommandOutput {
  const alg = o.alg ?? 'EdDSA';
  if (alg !== 'EdDSA' && alg !== 'SM2SM3') return { stdout: '', stderr: `--alg: must be EdDSA (Ed25519) or SM2SM3 (国密 SM2), not ${alg.slice(0, 20)}\n`, exitCode: 1 };
  const { privateJwk, publicJwk } = generateAnchorKey(alg);
  writeNew(o.out, JSON.stringify(privateJwk, null, 2) + '\n', 0o600);
  if (o.publicOut) writeNew(o.publicOut, JSON.stringify(publicJwk, null, 2) + '\n');
  return {
    stdout: JSON.stringify(publicJwk) + '\n',
    stderr: `anchor key ${publicJwk.kid} written to ${o.out} (mode 0600): keep it offline. Give every province the public JWK above (TONGBAN_DIRECTORY_ANCHOR).\n`,
    exitCode: 0,
  };
}

/** `directory sign`: signs a directory JSON file with the anchor's private JWK file. */
export async function signDirectoryCommand(o: { key: string; in: string; out: string; validDays: string }): Promise<CommandOutput> {
  let stderr = '';
  if ((statSync(o.key).mode & 0o077) !== 0) stderr += `warning: ${o.key} can be read by other users; chmod 600 it\n`;
  const { jws, document, kid } = await signDirectory(readJson(o.in, 'directory'), readJson(o.key, 'key file'), { validDays: Number(o.validDays) });
  writeFileSync(o.out, jws + '\n');
  if (Date.parse(document.notAfter) < Date.now()) stderr += `warning: notAfter ${document.notAfter} is in the past: gateways use it only within their grace period\n`;
  return {
    stdout: `signed directory serial ${document.serial} (${document.participants.length} participants), valid ${document.notBefore} to ${document.notAfter}, anchor ${kid}: ${o.out}\n`,
    stderr,
    exitCode: 0,
  };
}

/** `directory verify`: checks a signed directory with the anchor's public JWK and prints a summary (exit 1 unless valid now). */
export async function verifyDirectoryCommand(file: string, o: { anchor: string }): Promise<CommandOutput> {
  const anchor = loadAnchor(readJson(o.anchor, 'anchor', true));
  const v = await verifyDirectory(readFileSync(file, 'utf8'), anchor);
  if (!v.ok) throw new Error(`directory refused: ${v.reason}: ${v.message}`);
  const d = v.document;
  const time = checkFreshness(d, v.jws, null, Date.now(), 0, 0);
  const lines = [
    `serial        ${d.serial}`,
    // The key that signed it: during a rollover the configured set holds two, and which one signed is what the operator checks.
    `anchor        ${v.kid}${anchor.keys.size > 1 ? ` (one of ${anchor.keys.size} configured anchor keys)` : ''}`,
    `issuedAt      ${d.issuedAt}`,
    `valid         ${d.notBefore} to ${d.notAfter}: ${time.ok ? 'VALID now' : time.reason}`,
    `participants  ${d.participants.length}`,
    ...d.participants.map((p) => `  ${p.code}  ${p.name}  ${p.endpoint}  ${p.status}  keys=${p.keys.map((k) => `${k.kid.slice(0, 12)}…(${k.status})`).join(' ')}${p.tlsCa ? '  tlsCa' : ''}`),
  ];
  return { stdout: lines.join('\n') + '\n', stderr: '', exitCode: time.ok ? 0 : 1 };
}
