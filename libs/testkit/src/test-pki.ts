import { createPrivateKey, randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChannelCredentials, credentials } from '@grpc/grpc-js';
import { CertificateAuthority, createCertificateAuthority, issueGatewayCertificate, loadCertificateAuthority } from '@tongban/tls';

/** TLS files for one gateway, as startGateway takes them (GatewayOptions.tls). */
export interface TlsFilesOption {
  certFile: string;
  keyFile: string;
  caFile: string;
  keyPassphrase: string;
}

/** A certificate made for a test party (PEM, key decrypted), for building client credentials. */
export interface TestIdentity {
  cert: Buffer;
  key: Buffer;
}

/**
 * The test federation's CA, one per test process (jest worker): every gateway a test starts and
 * every FakePeer it sends as get certificates from it, so they all trust each other. `other()`
 * is a second CA nobody trusts.
 */
export class TestPki {
  private static shared: Promise<TestPki> | undefined;
  private readonly files = new Map<string, Promise<TlsFilesOption>>();
  private readonly identities = new Map<string, Promise<TestIdentity>>();
  private otherPki: Promise<TestPki> | undefined;

  private constructor(
    readonly dir: string,
    readonly caPem: string,
    readonly caFile: string,
    private readonly ca: CertificateAuthority,
    readonly passphrase: string,
  ) {}

  /** The process-wide test CA. */
  static get(): Promise<TestPki> {
    TestPki.shared ??= TestPki.create('Tongban test CA');
    return TestPki.shared;
  }

  static async create(name: string): Promise<TestPki> {
    const dir = mkdtempSync(join(tmpdir(), 'tongban-test-pki-'));
    const passphrase = randomBytes(18).toString('base64url');
    const made = await createCertificateAuthority({ name, days: 30 }, passphrase);
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, made.certificate);
    return new TestPki(dir, made.certificate, caFile, await loadCertificateAuthority(made.certificate, made.privateKey, passphrase), passphrase);
  }

  /** A CA no gateway trusts (for "unknown CA" tests). */
  other(): Promise<TestPki> {
    this.otherPki ??= TestPki.create('Untrusted test CA');
    return this.otherPki;
  }

  /** Gateway TLS files for `code` (made once per process and code). */
  filesFor(code: string): Promise<TlsFilesOption> {
    let f = this.files.get(code);
    if (!f) {
      f = (async () => {
        const pem = await issueGatewayCertificate(this.ca, { code, hosts: ['localhost', '127.0.0.1'], days: 10 }, this.passphrase);
        const certFile = join(this.dir, `${code}.pem`);
        const keyFile = join(this.dir, `${code}.key`);
        writeFileSync(certFile, pem.certificate);
        writeFileSync(keyFile, pem.privateKey, { mode: 0o600 });
        return { certFile, keyFile, caFile: this.caFile, keyPassphrase: this.passphrase };
      })();
      this.files.set(code, f);
    }
    return f;
  }

  /**
   * Renews the gateway certificate of `code` in place (new key, `days` of validity), as an
   * operator would: each file is written to a temporary name and renamed over the old one.
   */
  async renew(code: string, days: number): Promise<void> {
    const files = await this.filesFor(code);
    const pem = await issueGatewayCertificate(this.ca, { code, hosts: ['localhost', '127.0.0.1'], days }, this.passphrase);
    writeFileSync(`${files.keyFile}.new`, pem.privateKey, { mode: 0o600 });
    writeFileSync(`${files.certFile}.new`, pem.certificate);
    renameSync(`${files.keyFile}.new`, files.keyFile);
    renameSync(`${files.certFile}.new`, files.certFile);
  }

  /**
   * A client identity: a certificate naming participant `code`, or (`code` null) a CA-issued
   * certificate naming no participant at all.
   */
  identity(code: string | null): Promise<TestIdentity> {
    const k = code ?? 'none';
    let id = this.identities.get(k);
    if (!id) {
      id = (async () => {
        const pem = await issueGatewayCertificate(this.ca, { code: code ?? '000000', hosts: ['localhost'], days: 10, identity: code !== null }, this.passphrase);
        const key = createPrivateKey({ key: pem.privateKey, passphrase: this.passphrase }).export({ format: 'pem', type: 'pkcs8' });
        return { cert: Buffer.from(pem.certificate), key: Buffer.from(key) };
      })();
      this.identities.set(k, id);
    }
    return id;
  }

  /**
   * Client credentials presenting `as` (a participant code, null for a certificate naming none,
   * 'no-certificate' for none at all), trusting this CA for the server.
   */
  async credentials(as: string | null): Promise<ChannelCredentials> {
    if (as === 'no-certificate') return credentials.createSsl(Buffer.from(this.caPem));
    const id = await this.identity(as);
    return credentials.createSsl(Buffer.from(this.caPem), id.key, id.cert);
  }
}

/** Client credentials for a test party calling a test gateway as participant `as`. */
export async function testCredentials(as: string | null): Promise<ChannelCredentials> {
  return (await TestPki.get()).credentials(as);
}
