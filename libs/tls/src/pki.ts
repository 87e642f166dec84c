import 'reflect-metadata';
import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type * as X509 from '@peculiar/x509';
import { participantDnsName, participantUri } from './identity';

// A small certificate authority for the federation's mutual TLS: `tongban tls ca|issue` (an
// administrator's machine), the local federation of `npm start` and the tests. Keys are ECDSA
// P-256 with SHA-256 signatures; private keys are written as PKCS#8 PEM encrypted with
// AES-256-CBC under a passphrase (PBES2), never in the clear. A province that already runs a PKI
// can use its own certificates instead: the gateway only needs the participant URI (identity.ts).

// @peculiar/x509 (and its ASN.1 schemas) adds ~14 MiB to a process: loaded on first use only, so
// a running gateway, which never issues certificates, does not carry it.
let loaded: typeof X509 | undefined;
function x509lib(): typeof X509 {
  if (!loaded) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require('@peculiar/x509') as typeof X509;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    loaded.cryptoProvider.set(webcrypto as any);
  }
  return loaded;
}

type CryptoKey = webcrypto.CryptoKey;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** Backdating of notBefore, so that a peer whose clock is a little behind accepts a new certificate. */
const BACKDATE_MS = 5 * 60_000;

/** A certificate and its private key, both PEM; the key is encrypted when a passphrase was given. */
export interface IssuedPem {
  certificate: string;
  privateKey: string;
}

/** A CA loaded for issuing. */
export interface CertificateAuthority {
  certificate: X509Certificate;
  pem: string;
  key: CryptoKey;
}

export interface CaOptions {
  name: string;
  days: number;
}

export interface GatewayCertificateOptions {
  code: string;
  /** DNS names and IP addresses the gateway is reached at (for ordinary TLS tools). */
  hosts: string[];
  days: number;
  /** Extra certificate: `identity: false` makes one without the participant URI (tests of refusals). */
  identity?: boolean;
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f; // a positive INTEGER
  return bytes.toString('hex');
}

function keyPem(der: ArrayBuffer, passphrase: string | undefined): string {
  const key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  if (passphrase === undefined) return key.export({ format: 'pem', type: 'pkcs8' }) as string;
  if (passphrase.length < 16) throw new Error('a key passphrase must be at least 16 characters');
  return key.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase }) as string;
}

function dnValue(s: string): string {
  if (!/^[\p{L}\p{N} ._()-]{1,64}$/u.test(s)) throw new Error(`name ${JSON.stringify(s).slice(0, 80)}: 1-64 letters, digits, spaces or ._()- only`);
  return s;
}

/** A new self-signed CA (pathLen 0: it issues gateway certificates only). */
export async function createCertificateAuthority(o: CaOptions, passphrase: string | undefined): Promise<IssuedPem> {
  const x509 = x509lib();
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${dnValue(o.name)}, O=Tongban federation`,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + o.days * DAY_MS),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificate: cert.toString('pem') + '\n', privateKey: keyPem(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), passphrase) };
}

/** Loads a CA certificate and its (encrypted) private key for issuing. */
export async function loadCertificateAuthority(certificatePem: string, privateKeyPem: string, passphrase: string | undefined): Promise<CertificateAuthority> {
  const certificate = new X509Certificate(certificatePem);
  if (!certificate.ca) throw new Error('the CA certificate is not a CA (basicConstraints CA:FALSE)');
  let key;
  try {
    key = createPrivateKey({ key: privateKeyPem, format: 'pem', ...(passphrase !== undefined ? { passphrase } : {}) });
  } catch {
    throw new Error('the CA private key cannot be read: wrong passphrase, or not a PEM private key');
  }
  if (!certificate.checkPrivateKey(key)) throw new Error('the CA private key does not belong to the CA certificate');
  const der = key.export({ format: 'der', type: 'pkcs8' });
  const cryptoKey = await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  return { certificate, pem: certificatePem, key: cryptoKey };
}

/**
 * A certificate for the gateway of participant `code`, for both ends of mutual TLS (serverAuth
 * and clientAuth), naming the participant in a URI subjectAltName and in the DNS name
 * `gateway-<code>.tongban.invalid` (for peers whose TLS stack checks host names). The file it is written to
 * holds the leaf followed by the CA certificate.
 */
export async function issueGatewayCertificate(ca: CertificateAuthority, o: GatewayCertificateOptions, passphrase: string | undefined): Promise<IssuedPem> {
  const x509 = x509lib();
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const names: X509.JsonGeneralName[] = [];
  if (o.identity !== false) names.push({ type: 'url', value: participantUri(o.code) }, { type: 'dns', value: participantDnsName(o.code) });
  for (const h of o.hosts) {
    if (o.identity !== false && h.toLowerCase() === participantDnsName(o.code)) continue;
    if (isIP(h)) names.push({ type: 'ip', value: h });
    else if (/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(h)) names.push({ type: 'dns', value: h.toLowerCase() });
    else throw new Error(`host ${JSON.stringify(h).slice(0, 80)} is neither a DNS name nor an IP address`);
  }
  const now = Date.now();
  const notAfter = Math.min(now + o.days * DAY_MS, Date.parse(ca.certificate.validTo));
  const caCert = new x509.X509Certificate(ca.pem);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=tongban-gateway-${o.code}, O=Tongban federation`,
    issuer: caCert.subject,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(notAfter),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      ...(names.length ? [new x509.SubjectAlternativeNameExtension(names)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certificate: leaf.toString('pem') + '\n' + ca.pem.trim() + '\n',
    privateKey: keyPem(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), passphrase),
  };
}
