import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, X509Certificate as Cert } from 'node:crypto';
import { participantDnsName, participantOfCertificate } from './identity';
import { createCertificateAuthority, issueGatewayCertificate, loadCertificateAuthority } from './pki';
import { loadTlsMaterial, parseCertificates, TlsFiles, TlsMaterialError } from './tls-material';

// The `tongban tls` commands (apps/cli wires them and passes the passphrases it read from the
// environment variables the administrator named). They need no gateway config or database.

/** What a command prints: stdout, stderr notes, and the exit code. */
export interface TlsCommandOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Days before expiry at which `issue --renew-within` replaces a certificate. */
const DAY_MS = 86_400_000;

function writeNew(file: string, text: string, mode?: number, overwrite = false): void {
  try {
    writeFileSync(file, text, { flag: overwrite ? 'w' : 'wx', ...(mode ? { mode } : {}) });
  } catch (e) {
    throw new Error((e as NodeJS.ErrnoException).code === 'EEXIST' ? `${file} exists already: not overwritten` : (e as Error).message);
  }
}

function passphrase(value: string | undefined, envName: string, what: string): string {
  if (!value) throw new Error(`${envName} is not set: it must hold the passphrase that encrypts ${what} (at least 16 characters)`);
  if (value.length < 16) throw new Error(`${envName}: the passphrase must be at least 16 characters`);
  return value;
}

/** `tls ca`: a new federation CA: `<out>/ca.pem` (give to every gateway) and `<out>/ca.key` (encrypted, 0600). */
export async function tlsCaCommand(o: { out: string; name: string; days: string; passphraseEnv: string }, caPassphrase: string | undefined): Promise<TlsCommandOutput> {
  const days = Number(o.days);
  if (!Number.isInteger(days) || days < 1 || days > 7300) throw new Error('--days must be a whole number from 1 to 7300');
  const pass = passphrase(caPassphrase, o.passphraseEnv, 'the CA private key');
  mkdirSync(o.out, { recursive: true });
  const ca = await createCertificateAuthority({ name: o.name, days }, pass);
  writeNew(join(o.out, 'ca.key'), ca.privateKey, 0o600);
  writeNew(join(o.out, 'ca.pem'), ca.certificate);
  const cert = new Cert(ca.certificate);
  return {
    stdout: `CA "${o.name}" valid to ${new Date(cert.validTo).toISOString()}, SHA-256 ${cert.fingerprint256}\n`,
    stderr: `wrote ${join(o.out, 'ca.pem')} (trust it: TONGBAN_TLS_CA) and ${join(o.out, 'ca.key')} (encrypted, mode 0600: keep it offline)\n`,
    exitCode: 0,
  };
}

/**
 * `tls issue`: a gateway certificate per code, signed by the CA in `--ca`: `<out>/<code>.pem`
 * (certificate + CA) and `<out>/<code>.key` (encrypted with the key passphrase, 0600).
 * With `renewWithin` days, an existing certificate is kept unless it expires within that time.
 */
export async function tlsIssueCommand(
  o: { ca: string; code: string[]; host: string[]; days: string; out: string; renewWithin?: string; caPassphraseEnv: string; keyPassphraseEnv: string },
  caPassphrase: string | undefined,
  keyPassphrase: string | undefined,
): Promise<TlsCommandOutput> {
  const days = Number(o.days);
  if (!Number.isInteger(days) || days < 1 || days > 825) throw new Error('--days must be a whole number from 1 to 825');
  for (const c of o.code) if (!/^\d{6}$/.test(c)) throw new Error(`--code ${JSON.stringify(c).slice(0, 20)}: must be a 6-digit participant code`);
  const renewMs = o.renewWithin === undefined ? undefined : Number(o.renewWithin) * DAY_MS;
  if (renewMs !== undefined && !(renewMs >= 0)) throw new Error('--renew-within must be a number of days');
  const keyPass = passphrase(keyPassphrase, o.keyPassphraseEnv, "the gateway's TLS private key");
  const ca = await loadCertificateAuthority(readFileSync(join(o.ca, 'ca.pem'), 'utf8'), readFileSync(join(o.ca, 'ca.key'), 'utf8'), passphrase(caPassphrase, o.caPassphraseEnv, 'the CA private key'));
  mkdirSync(o.out, { recursive: true });
  const lines: string[] = [];
  for (const code of o.code) {
    const certFile = join(o.out, `${code}.pem`);
    const keyFile = join(o.out, `${code}.key`);
    if (renewMs !== undefined && existsSync(certFile) && existsSync(keyFile)) {
      const current = parseCertificates(readFileSync(certFile, 'utf8'), certFile)[0];
      if (current && Date.parse(current.validTo) - Date.now() > renewMs && current.checkIssued(ca.certificate) && current.verify(ca.certificate.publicKey)) {
        lines.push(`${code}: kept ${certFile} (valid to ${new Date(current.validTo).toISOString()})`);
        continue;
      }
    }
    const issued = await issueGatewayCertificate(ca, { code, hosts: o.host, days }, keyPass);
    const overwrite = renewMs !== undefined;
    writeNew(keyFile, issued.privateKey, 0o600, overwrite);
    writeNew(certFile, issued.certificate, undefined, overwrite);
    lines.push(`${code}: wrote ${certFile} and ${keyFile} (valid to ${new Date(new Cert(issued.certificate).validTo).toISOString()})`);
  }
  return { stdout: lines.join('\n') + '\n', stderr: '', exitCode: 0 };
}

/**
 * `tls check`: runs the gateway's own start-up checks on TLS files (by default the configured
 * ones) without starting it — e.g. on renewed files before they are moved into place.
 */
export function tlsCheckCommand(files: TlsFiles, code: string, production: boolean): TlsCommandOutput {
  try {
    const m = loadTlsMaterial(files, code, { production });
    const days = Math.floor((m.notAfter.getTime() - Date.now()) / DAY_MS);
    const dnsName = participantDnsName(m.participant);
    const leaf = parseCertificates(m.certificateChain.toString('utf8'), files.certFile)[0];
    const hasDnsName = (leaf?.subjectAltName ?? '').split(', ').includes(`DNS:${dnsName}`);
    const warnings = [
      ...(days < 14 ? [`warning: expires in ${days} days: renew it (docs/operations.md §18.4)`] : []),
      ...(hasDnsName ? [] : [`warning: no DNS name ${dnsName}: peers whose gRPC stack checks host names cannot call this gateway (docs/operations.md §18.3)`]),
    ];
    return {
      stdout:
        [
          `OK: certificate for participant ${m.participant}, valid ${m.notBefore.toISOString()} to ${m.notAfter.toISOString()} (${days} days left)`,
          `    SHA-256 ${m.fingerprint}; key matches${files.keyPassphrase ? ' (encrypted)' : ''}; chains to ${m.caSubjects.join(' | ')}`,
        ].join('\n') + '\n',
      stderr: warnings.map((w) => `${w}\n`).join(''),
      exitCode: 0,
    };
  } catch (e) {
    if (e instanceof TlsMaterialError) return { stdout: '', stderr: `NOT OK: ${e.message}\n`, exitCode: 1 };
    throw e;
  }
}

/** `tls show`: what a certificate file says (participant, names, validity, fingerprint, issuer). */
export function tlsShowCommand(file: string): TlsCommandOutput {
  const certs = parseCertificates(readFileSync(file, 'utf8'), file);
  if (!certs.length) throw new Error(`${file}: holds no PEM certificate`);
  const out = certs.map((c: Cert, i) => {
    const left = Date.parse(c.validTo) - Date.now();
    return [
      `certificate ${i + 1}${c.ca ? ' (CA)' : ''}`,
      `  participant  ${participantOfCertificate(c) ?? (c.ca ? '-' : 'NONE (a gateway certificate must name one)')}`,
      `  subject      ${c.subject.replace(/\n/g, ', ')}`,
      `  issuer       ${c.issuer.replace(/\n/g, ', ')}`,
      `  names        ${c.subjectAltName ?? '-'}`,
      `  valid        ${new Date(c.validFrom).toISOString()} to ${new Date(c.validTo).toISOString()}${left < 0 ? '  EXPIRED' : left < 30 * DAY_MS ? `  expires in ${Math.floor(left / DAY_MS)} days` : ''}`,
      `  sha256       ${createHash('sha256').update(c.raw).digest('hex')}`,
    ].join('\n');
  });
  return { stdout: out.join('\n') + '\n', stderr: '', exitCode: 0 };
}
