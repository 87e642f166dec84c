import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { participantOfCertificate } from './identity';

/** Where a gateway's TLS files are (GatewayConfig.transport when mutual TLS is on). */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
  keyPassphrase?: string;
}

/** The checked contents of the TLS files, ready for the TLS stack. */
export interface TlsMaterial {
  /** Leaf certificate followed by any intermediates, PEM. */
  certificateChain: Buffer;
  /** The private key as unencrypted PKCS#8 PEM: in memory only, handed to the TLS stack. */
  privateKey: Buffer;
  /** The CA certificates trusted for peers, PEM (the file's, plus any added by the directory). */
  caBundle: Buffer;
  participant: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the leaf certificate (DER), hex. */
  fingerprint: string;
  /** Subjects of the trusted CAs (for status pages). */
  caSubjects: string[];
}

/** A TLS file is missing, unreadable or wrong; the message names the setting and the rule. */
export class TlsMaterialError extends Error {}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const EKU_SERVER = '1.3.6.1.5.5.7.3.1';
const EKU_CLIENT = '1.3.6.1.5.5.7.3.2';

/** Every certificate in a PEM text, parsed; throws naming `where` if one does not parse. */
export function parseCertificates(pem: string, where: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch {
      throw new TlsMaterialError(`${where}: certificate ${i + 1} is not a valid X.509 certificate`);
    }
  });
}

function read(file: string, where: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new TlsMaterialError(`${where}: ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** True when `cert` was issued (and signed) by `issuer`. */
export function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

/**
 * Reads and checks a gateway's TLS files: the certificate names participant `code` (one
 * `urn:tongban:participant:` URI), is valid now, may be used for both server and client auth,
 * chains to a CA of the bundle, and matches the private key; in production the key file must be
 * encrypted. `extraCas` (PEM) are CAs published for participants in the federation directory.
 */
export function loadTlsMaterial(files: TlsFiles, code: string, opts: { production: boolean; now?: Date; extraCas?: string[] }): TlsMaterial {
  const now = opts.now ?? new Date();
  const chain = parseCertificates(read(files.certFile, 'TONGBAN_TLS_CERT'), `TONGBAN_TLS_CERT ${files.certFile}`);
  if (!chain.length) throw new TlsMaterialError(`TONGBAN_TLS_CERT ${files.certFile}: holds no PEM certificate`);
  const leaf = chain[0];
  const participant = participantOfCertificate(leaf);
  if (participant === null) throw new TlsMaterialError(`TONGBAN_TLS_CERT ${files.certFile}: the certificate must name exactly one participant (subjectAltName URI urn:tongban:participant:<code>)`);
  if (participant !== code) throw new TlsMaterialError(`TONGBAN_TLS_CERT ${files.certFile}: the certificate is for participant ${participant}, but this gateway is ${code}`);
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (now < notBefore) throw new TlsMaterialError(`TONGBAN_TLS_CERT ${files.certFile}: the certificate is not valid before ${notBefore.toISOString()}`);
  if (now > notAfter) throw new TlsMaterialError(`TONGBAN_TLS_CERT ${files.certFile}: the certificate expired on ${notAfter.toISOString()}`);
  if (leaf.ca) throw new TlsMaterialError(`TONGBAN_TLS_CERT ${files.certFile}: the first certificate is a CA; put the gateway's own certificate first`);
  const eku = leaf.keyUsage;
  if (eku && !(eku.includes(EKU_SERVER) && eku.includes(EKU_CLIENT))) {
    throw new TlsMaterialError(`TONGBAN_TLS_CERT ${files.certFile}: extendedKeyUsage must allow both serverAuth and clientAuth (a gateway is server and client)`);
  }

  const keyText = read(files.keyFile, 'TONGBAN_TLS_KEY');
  const encrypted = keyText.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----');
  if (!encrypted && opts.production) {
    throw new TlsMaterialError(`TONGBAN_TLS_KEY ${files.keyFile}: must be an encrypted PKCS#8 key in production (BEGIN ENCRYPTED PRIVATE KEY; passphrase in TONGBAN_TLS_KEY_PASSPHRASE)`);
  }
  if (encrypted && !files.keyPassphrase) throw new TlsMaterialError(`TONGBAN_TLS_KEY_PASSPHRASE: required: ${files.keyFile} is encrypted`);
  let key;
  try {
    key = createPrivateKey({ key: keyText, format: 'pem', ...(encrypted ? { passphrase: files.keyPassphrase } : {}) });
  } catch {
    throw new TlsMaterialError(`TONGBAN_TLS_KEY ${files.keyFile}: cannot be read${encrypted ? ' with TONGBAN_TLS_KEY_PASSPHRASE (wrong passphrase?)' : ' as a PEM private key'}`);
  }
  if (!leaf.checkPrivateKey(key)) throw new TlsMaterialError(`TONGBAN_TLS_KEY ${files.keyFile}: does not belong to the certificate in ${files.certFile}`);

  const caText = read(files.caFile, 'TONGBAN_TLS_CA');
  const cas = parseCertificates(caText, `TONGBAN_TLS_CA ${files.caFile}`);
  if (!cas.length) throw new TlsMaterialError(`TONGBAN_TLS_CA ${files.caFile}: holds no PEM certificate`);
  for (const [i, ca] of cas.entries()) if (!ca.ca) throw new TlsMaterialError(`TONGBAN_TLS_CA ${files.caFile}: certificate ${i + 1} (${ca.subject.replace(/\n/g, ', ')}) is not a CA`);
  const extra = (opts.extraCas ?? []).flatMap((pem, i) => parseCertificates(pem, `directory tlsCa ${i + 1}`).filter((c) => c.ca));
  const all = dedupe([...cas, ...extra]);
  if (!chainsTo(leaf, chain.slice(1), all)) {
    throw new TlsMaterialError(`TONGBAN_TLS_CERT ${files.certFile}: the certificate is not issued by a CA in TONGBAN_TLS_CA ${files.caFile} (peers would refuse it)`);
  }
  return {
    certificateChain: Buffer.from(chain.map((c) => c.toString()).join('')),
    privateKey: Buffer.from(key.export({ format: 'pem', type: 'pkcs8' }) as string),
    caBundle: Buffer.from(all.map((c) => c.toString()).join('')),
    participant,
    notBefore,
    notAfter,
    fingerprint: createHash('sha256').update(leaf.raw).digest('hex'),
    caSubjects: all.map((c) => c.subject.replace(/\n/g, ', ')),
  };
}

function dedupe(certs: X509Certificate[]): X509Certificate[] {
  const seen = new Set<string>();
  return certs.filter((c) => !seen.has(c.fingerprint256) && (seen.add(c.fingerprint256), true));
}

/** Whether `leaf` reaches one of `roots`, possibly through `intermediates` (at most 4 steps). */
function chainsTo(leaf: X509Certificate, intermediates: X509Certificate[], roots: X509Certificate[]): boolean {
  let current = leaf;
  for (let depth = 0; depth < 5; depth++) {
    if (roots.some((r) => issuedBy(current, r))) return true;
    const next = intermediates.find((i) => i !== current && issuedBy(current, i));
    if (!next) return false;
    current = next;
  }
  return false;
}
