import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { TLSSocket } from 'node:tls';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChannelCredentials, credentials, makeGenericClientConstructor, Server, ServerUnaryCall, sendUnaryData, status } from '@grpc/grpc-js';
import { createCertificateAuthority, issueGatewayCertificate, loadCertificateAuthority } from './pki';
import { loadTlsMaterial, TlsMaterialError } from './tls-material';
import { TransportSecurity } from './transport-security';

// Real TLS sockets between a grpc-js server and clients, with certificates from the PKI module.

const PASS = 'integration-test-passphrase';
const service = {
  whoAmI: {
    path: '/test.Echo/WhoAmI',
    requestStream: false,
    responseStream: false,
    requestSerialize: (v: Buffer) => v,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (v: Buffer) => v,
    responseDeserialize: (b: Buffer) => b,
  },
};
const Client = makeGenericClientConstructor(service, 'Echo');

interface Files {
  certFile: string;
  keyFile: string;
  caFile: string;
  keyPassphrase: string;
}

describe('TransportSecurity: mutual TLS with participant identities', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tongban-tls-'));
  let caPem: string;
  let issue: (code: string, o?: { identity?: boolean; days?: number; other?: boolean }) => Promise<Files>;
  let server: Server;
  let serverTs: TransportSecurity;
  let port: number;
  let seen: (string | null | undefined)[] = [];
  let sessions: (object | undefined)[] = [];
  let certificateReads = 0;

  beforeAll(async () => {
    const ca = await createCertificateAuthority({ name: 'Test federation CA', days: 30 }, PASS);
    caPem = ca.certificate;
    writeFileSync(join(dir, 'ca.pem'), ca.certificate);
    const other = await createCertificateAuthority({ name: 'Some other CA', days: 30 }, PASS);
    const loaded = await loadCertificateAuthority(ca.certificate, ca.privateKey, PASS);
    const otherLoaded = await loadCertificateAuthority(other.certificate, other.privateKey, PASS);
    let n = 0;
    issue = async (code, o = {}) => {
      const pem = await issueGatewayCertificate(o.other ? otherLoaded : loaded, { code, hosts: ['localhost', '127.0.0.1'], days: o.days ?? 10, identity: o.identity }, PASS);
      const base = join(dir, `${code}-${n++}`);
      writeFileSync(`${base}.pem`, pem.certificate);
      writeFileSync(`${base}.key`, pem.privateKey);
      return { certFile: `${base}.pem`, keyFile: `${base}.key`, caFile: join(dir, 'ca.pem'), keyPassphrase: PASS };
    };
    serverTs = new TransportSecurity({ kind: 'mtls', reloadSeconds: 0, ...(await issue('110000')) }, '110000', true);
    server = new Server();
    server.addService(service, {
      whoAmI: (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
        const read = call.getAuthContext.bind(call);
        call.getAuthContext = () => (certificateReads++, read());
        const who = serverTs.peerOf(call);
        seen.push(who);
        sessions.push(TransportSecurity.sessionOf(call));
        cb(null, Buffer.from(String(who)));
      },
    });
    port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', serverTs.serverCredentials(), (e, p) => (e ? reject(e) : resolve(p))));
  });

  afterAll(() => server?.forceShutdown());
  beforeEach(() => {
    seen = [];
    sessions = [];
    certificateReads = 0;
  });

  /** One whoAmI call on a channel of its own, closed after it (`options`: more channel options). */
  const ask = (creds: ChannelCredentials, options: Record<string, number> = {}) =>
    new Promise<{ who?: string; code?: number; details?: string }>((resolve) => {
      const c = new Client(`127.0.0.1:${port}`, creds, options);
      c.makeUnaryRequest(
        service.whoAmI.path,
        (v: Buffer) => v,
        (b: Buffer) => b,
        Buffer.alloc(0),
        { deadline: Date.now() + 5000 },
        (err, res) => {
          c.close();
          resolve(err ? { code: err.code, details: err.details } : { who: res!.toString() });
        },
      );
    });

  it('authenticates both ends: the server sees the client participant, the client checks the server participant', async () => {
    const client = new TransportSecurity({ kind: 'mtls', reloadSeconds: 0, ...(await issue('130000')) }, '130000', true);
    expect(await ask(client.channelCredentials('110000'))).toEqual({ who: '130000' });
    expect(seen).toEqual(['130000']);
    // grpc-js still exposes the connection where peerOf looks for it (else every call re-reads the certificate).
    expect(sessions[0]).toBeDefined();
  });

  it('keeps the identity per connection: several calls on one connection read the certificate once', async () => {
    const client = new TransportSecurity({ kind: 'mtls', reloadSeconds: 0, ...(await issue('130000')) }, '130000', true);
    // Count the server side's reads of the peer certificate (the client reads the server's once, at the handshake).
    let serverReads = 0;
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with apply(this) on the socket
    const original = TLSSocket.prototype.getPeerCertificate;
    const spy = jest.spyOn(TLSSocket.prototype, 'getPeerCertificate').mockImplementation(function (this: TLSSocket, ...args: [boolean?]) {
      if ((this as unknown as { _tlsOptions?: { isServer?: boolean } })._tlsOptions?.isServer) serverReads++;
      return original.apply(this, args as [true]);
    });
    const c = new Client(`127.0.0.1:${port}`, client.channelCredentials('110000'));
    const one = () =>
      new Promise<string>((resolve, reject) =>
        c.makeUnaryRequest(
          service.whoAmI.path,
          (v: Buffer) => v,
          (b: Buffer) => b,
          Buffer.alloc(0),
          (err, res) => (err ? reject(err) : resolve(res!.toString())),
        ),
      );
    expect(await Promise.all([one(), one(), one()])).toEqual(['130000', '130000', '130000']);
    c.close();
    spy.mockRestore();
    expect(serverReads).toBe(1);
    expect(new Set(sessions).size).toBe(1);
    expect(sessions[0]).toBeDefined();
    // peerOf read it from the connection, not through each call's auth context.
    expect(certificateReads).toBe(0);
  });

  it('refuses to talk to a server whose certificate names another participant (client side)', async () => {
    const client = new TransportSecurity({ kind: 'mtls', reloadSeconds: 0, ...(await issue('130000')) }, '130000', true);
    const r = await ask(client.channelCredentials('440000'));
    expect(r.code).toBe(status.UNAVAILABLE);
    expect(seen).toEqual([]);
  });

  it('refuses a client without a certificate, and one whose certificate comes from another CA, before any handler runs', async () => {
    const ca = Buffer.from(caPem);
    expect((await ask(credentials.createSsl(ca))).code).toBe(status.UNAVAILABLE);
    const stranger = loadTlsMaterialUnchecked(await issue('130000', { other: true }));
    expect((await ask(credentials.createSsl(ca, stranger.key, stranger.cert))).code).toBe(status.UNAVAILABLE);
    expect((await ask(credentials.createInsecure())).code).toBe(status.UNAVAILABLE);
    expect(seen).toEqual([]);
  });

  it('reports null for a CA-issued certificate that names no participant (the inbox refuses it)', async () => {
    const anon = await issue('130000', { identity: false });
    const m = loadTlsMaterialUnchecked(anon);
    expect(await ask(credentials.createSsl(Buffer.from(caPem), m.key, m.cert))).toEqual({ who: 'null' });
  });

  it('checks the files at start: participant, key match, CA chain, encrypted key in production', async () => {
    const good = await issue('110000');
    expect(() => loadTlsMaterial(good, '120000', { production: true })).toThrow(/for participant 110000, but this gateway is 120000/);
    const other = await issue('110000');
    expect(() => loadTlsMaterial({ ...good, keyFile: other.keyFile }, '110000', { production: true })).toThrow(/does not belong to the certificate/);
    expect(() => loadTlsMaterial({ ...good, keyPassphrase: 'wrong-passphrase-xxxxx' }, '110000', { production: true })).toThrow(/wrong passphrase/);
    expect(() => loadTlsMaterial({ ...good, keyPassphrase: undefined }, '110000', { production: true })).toThrow(/TONGBAN_TLS_KEY_PASSPHRASE: required/);
    const foreign = await issue('110000', { other: true });
    expect(() => loadTlsMaterial(foreign, '110000', { production: true })).toThrow(/not issued by a CA in TONGBAN_TLS_CA/);
    const anon = await issue('110000', { identity: false });
    expect(() => loadTlsMaterial(anon, '110000', { production: true })).toThrow(/must name exactly one participant/);
    const plainKey = join(dir, 'plain.key');
    writeFileSync(plainKey, loadTlsMaterial(good, '110000', { production: true }).privateKey);
    expect(() => loadTlsMaterial({ ...good, keyFile: plainKey }, '110000', { production: true })).toThrow(TlsMaterialError);
    expect(() => loadTlsMaterial({ ...good, keyFile: plainKey }, '110000', { production: true })).toThrow(/must be an encrypted PKCS#8 key in production/);
    expect(loadTlsMaterial({ ...good, keyFile: plainKey }, '110000', { production: false }).participant).toBe('110000');
    expect(() => loadTlsMaterial(good, '110000', { production: true, now: new Date(Date.now() + 11 * 86_400_000) })).toThrow(/expired on/);
  });

  it('reloads renewed files without a restart: new connections use the new certificate, a broken file keeps the old one', async () => {
    const first = await issue('130000');
    const path = join(dir, 'rotating');
    writeFileSync(`${path}.pem`, readFileSync(first.certFile));
    writeFileSync(`${path}.key`, readFileSync(first.keyFile));
    const ts = new TransportSecurity({ kind: 'mtls', reloadSeconds: 0, certFile: `${path}.pem`, keyFile: `${path}.key`, caFile: first.caFile, keyPassphrase: PASS }, '130000', true);
    const before = ts.status().fingerprint;
    const renewed = await issue('130000');
    writeFileSync(`${path}.pem`, readFileSync(renewed.certFile));
    writeFileSync(`${path}.key`, readFileSync(renewed.keyFile));
    expect(ts.reload()).toBe(true);
    expect(ts.status().fingerprint).not.toBe(before);
    expect(await ask(ts.channelCredentials('110000'))).toEqual({ who: '130000' });
    writeFileSync(`${path}.key`, 'not a key');
    const kept = ts.status().fingerprint;
    expect(ts.reload()).toBe(false);
    expect(ts.status()).toMatchObject({ fingerprint: kept, lastReloadError: expect.stringMatching(/TONGBAN_TLS_KEY/) });
    expect(await ask(ts.channelCredentials('110000'))).toEqual({ who: '130000' });
  });

  it('builds one client TLS context for all its peer connections, and a new one only after a reload', async () => {
    const first = await issue('130000');
    const path = join(dir, 'shared-context');
    writeFileSync(`${path}.pem`, readFileSync(first.certFile));
    writeFileSync(`${path}.key`, readFileSync(first.keyFile));
    const client = new TransportSecurity({ kind: 'mtls', reloadSeconds: 0, certFile: `${path}.pem`, keyFile: `${path}.key`, caFile: first.caFile, keyPassphrase: PASS }, '130000', true);
    // The module object itself (grpc-js and TransportSecurity call through it), not an import wrapper.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const tls = require('node:tls') as typeof import('node:tls');
    const contexts = jest.spyOn(tls, 'createSecureContext');
    const connections = jest.spyOn(tls, 'connect');
    // Each call on its own channel and connection (local subchannel pool): three handshakes to 110000 and
    // one to a server that is not 440000 (refused by the participant check, after the handshake).
    const call = async (peer: string) => {
      const { who, code } = await ask(client.channelCredentials(peer), { 'grpc.use_local_subchannel_pool': 1 });
      return who === undefined ? { code } : { who };
    };
    try {
      expect(client.channelCredentials('110000')).toBe(client.channelCredentials('110000'));
      expect([await call('110000'), await call('110000'), await call('110000')]).toEqual([{ who: '130000' }, { who: '130000' }, { who: '130000' }]);
      expect((await call('440000')).code).toBe(status.UNAVAILABLE);
      // Connections on the contexts built here (a channel left by an earlier test may still be reconnecting).
      const ours = connections.mock.calls.filter(([o]) => contexts.mock.results.some((r) => r.value === (o as { secureContext?: unknown } | undefined)?.secureContext));
      expect(ours).toHaveLength(4);
      expect(contexts).toHaveBeenCalledTimes(1); // grpc-js's certificate-provider credentials built one per connection
      const before = client.channelCredentials('110000');
      const renewed = await issue('130000');
      writeFileSync(`${path}.pem`, readFileSync(renewed.certFile));
      writeFileSync(`${path}.key`, readFileSync(renewed.keyFile));
      expect(client.reload()).toBe(true);
      const after = client.channelCredentials('110000');
      expect(after).not.toBe(before); // a caller caching a channel opens a new one: new connections use the new certificate
      expect(await call('110000')).toEqual({ who: '130000' });
      expect(contexts).toHaveBeenCalledTimes(2);
      expect(client.reload()).toBe(true); // files unchanged: same material, same credentials
      expect(client.channelCredentials('110000')).toBe(after);
    } finally {
      contexts.mockRestore();
      connections.mockRestore();
    }
  });

  it('works for a client that checks host names (grpc-js defaults): it connects with gateway-<code>.tongban.invalid as server name and authority', async () => {
    const material = loadTlsMaterialUnchecked(await issue('130000'));
    const hostChecking = credentials.createSsl(Buffer.from(caPem), material.key, material.cert); // no checkServerIdentity override
    const askAs = (name: string) =>
      new Promise<{ who?: string; code?: number; details?: string }>((resolve) => {
        const c = new Client(`127.0.0.1:${port}`, hostChecking, { 'grpc.ssl_target_name_override': name, 'grpc.default_authority': name });
        c.makeUnaryRequest(
          service.whoAmI.path,
          (v: Buffer) => v,
          (b: Buffer) => b,
          Buffer.alloc(0),
          { deadline: Date.now() + 5000 },
          (err, res) => {
            c.close();
            resolve(err ? { code: err.code, details: err.details } : { who: res!.toString() });
          },
        );
      });
    expect(await askAs('gateway-110000.tongban.invalid')).toEqual({ who: '130000' });
    // The same client asking for another participant's name fails its own host-name check.
    expect(await askAs('gateway-440000.tongban.invalid')).toMatchObject({ code: status.UNAVAILABLE });
    // `tongban tls issue` puts the name in every certificate, next to the participant URI.
    expect(new X509Certificate(readFileSync((await issue('440000')).certFile)).subjectAltName).toMatch(/^URI:urn:tongban:participant:440000, DNS:gateway-440000\.tongban\.invalid/);
  });

  it('never puts key material in its status', async () => {
    const ts = new TransportSecurity({ kind: 'mtls', reloadSeconds: 0, ...(await issue('130000')) }, '130000', true);
    expect(JSON.stringify(ts.status())).not.toMatch(/PRIVATE KEY/);
    expect(ts.status()).toMatchObject({ mode: 'mtls', participant: '130000' });
  });

  function loadTlsMaterialUnchecked(f: Files): { key: Buffer; cert: Buffer } {
    // the same decryption the gateway does, minus the identity check that would refuse this file
    const key = createPrivateKey({ key: readFileSync(f.keyFile, 'utf8'), passphrase: PASS }).export({ format: 'pem', type: 'pkcs8' });
    return { key: Buffer.from(key), cert: readFileSync(f.certFile) };
  }

  describe('directory pinning with an intermediate CA', () => {
    // A province's own PKI: root (listed in the directory as tlsCa) → intermediate → gateway certificate.
    async function provincePki(code: string) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const x509 = require('@peculiar/x509') as typeof import('@peculiar/x509');
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { webcrypto, createPrivateKey } = require('node:crypto') as typeof import('node:crypto');
      x509.cryptoProvider.set(webcrypto as never);
      const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
      const keys = async () => await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
      const [rootKeys, midKeys, leafKeys] = [await keys(), await keys(), await keys()];
      const now = Date.now();
      const validity = { notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000) };
      const root = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: '01',
        name: `CN=Province ${code} root CA`,
        ...validity,
        signingAlgorithm: alg,
        keys: rootKeys,
        extensions: [
          new x509.BasicConstraintsExtension(true, 1, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
          await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
        ],
      });
      const mid = await x509.X509CertificateGenerator.create({
        serialNumber: '02',
        subject: `CN=Province ${code} issuing CA`,
        issuer: root.subject,
        ...validity,
        signingAlgorithm: alg,
        publicKey: midKeys.publicKey,
        signingKey: rootKeys.privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
          await x509.AuthorityKeyIdentifierExtension.create(root),
          await x509.SubjectKeyIdentifierExtension.create(midKeys.publicKey),
        ],
      });
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: '03',
        subject: `CN=tongban-gateway-${code}`,
        issuer: mid.subject,
        ...validity,
        signingAlgorithm: alg,
        publicKey: leafKeys.publicKey,
        signingKey: midKeys.privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
          new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `urn:tongban:participant:${code}` }]),
          await x509.AuthorityKeyIdentifierExtension.create(mid),
        ],
      });
      const key = createPrivateKey({ key: Buffer.from(await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey)), format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' });
      return { rootPem: root.toString('pem'), chain: Buffer.from(`${leaf.toString('pem')}\n${mid.toString('pem')}\n`), key: Buffer.from(key) };
    }

    it('accepts a certificate issued through an intermediate of the listed CA; refuses one from another CA even if it carries a copy of the listed CA', async () => {
      const hebei = await provincePki('130000');
      serverTs.setDirectoryCas({ '130000': hebei.rootPem });
      try {
        const ca = Buffer.from(caPem);
        // 河北's own PKI, root listed in the directory: accepted (leaf ← intermediate ← listed root).
        expect(await ask(credentials.createSsl(ca, hebei.key, hebei.chain))).toEqual({ who: '130000' });
        // A certificate for 130000 from the federation test CA (trusted, but not 河北's listed CA): names nobody.
        const other = loadTlsMaterialUnchecked(await issue('130000'));
        expect(await ask(credentials.createSsl(ca, other.key, other.cert))).toEqual({ who: 'null' });
        // The same, presenting a copy of 河北's root in its chain: still nobody (links are checked by signature).
        expect(await ask(credentials.createSsl(ca, other.key, Buffer.concat([other.cert, Buffer.from(hebei.rootPem)])))).toEqual({ who: 'null' });
      } finally {
        serverTs.setDirectoryCas({});
      }
      // Without a pin the federation CA's certificate for 130000 is accepted again.
      const other = loadTlsMaterialUnchecked(await issue('130000'));
      expect(await ask(credentials.createSsl(Buffer.from(caPem), other.key, other.cert))).toEqual({ who: '130000' });
    });
  });
  describe('directory mode: an unpinned participant is accepted by no CA', () => {
    it('refuses a client whose participant has no tlsCa in the directory, and calls to such a server; accepts it once pinned', async () => {
      // A separate server: requireDirectoryPins cannot be undone, and the shared server is not in directory mode.
      const ts = new TransportSecurity({ kind: 'mtls', reloadSeconds: 0, ...(await issue('110000')) }, '110000', true);
      ts.requireDirectoryPins();
      const s = new Server();
      s.addService(service, { whoAmI: (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => cb(null, Buffer.from(String(ts.peerOf(call)))) });
      const p = await new Promise<number>((resolve, reject) => s.bindAsync('127.0.0.1:0', ts.serverCredentials(), (e, n) => (e ? reject(e) : resolve(n))));
      const askDm = (creds: ChannelCredentials) =>
        new Promise<{ who?: string; code?: number; details?: string }>((resolve) => {
          const c = new Client(`127.0.0.1:${p}`, creds);
          c.makeUnaryRequest(
            service.whoAmI.path,
            (v: Buffer) => v,
            (b: Buffer) => b,
            Buffer.alloc(0),
            { deadline: Date.now() + 5000 },
            (err, res) => {
              c.close();
              resolve(err ? { code: err.code, details: err.details } : { who: res!.toString() });
            },
          );
        });
      try {
        const hebei = await issue('130000');
        const material = loadTlsMaterialUnchecked(hebei);
        const asHebei = () => credentials.createSsl(Buffer.from(caPem), material.key, material.cert);
        // The directory lists 北京 with a CA, 河北 without: a certificate for 130000 from a CA the gateway trusts names nobody.
        ts.setDirectoryCas({ '110000': caPem });
        expect(await askDm(asHebei())).toEqual({ who: 'null' });
        // Before the change, this was accepted (a participant without tlsCa was not pinned).
        expect(ts.acceptsParticipant('130000')).toBe(false);
        // The other direction: a directory-mode client does not accept a server for an unpinned participant.
        const client = new TransportSecurity({ kind: 'mtls', reloadSeconds: 0, ...hebei }, '130000', true);
        client.requireDirectoryPins();
        client.setDirectoryCas({ '130000': caPem });
        expect(await askDm(client.channelCredentials('110000'))).toMatchObject({ code: status.UNAVAILABLE, details: expect.stringMatching(/lists no tlsCa for 110000/) });
        // Once the directory pins a CA for 河北, the same certificate is accepted.
        ts.setDirectoryCas({ '110000': caPem, '130000': caPem });
        expect(await askDm(asHebei())).toEqual({ who: '130000' });
        client.setDirectoryCas({ '130000': caPem, '110000': caPem });
        expect(await askDm(client.channelCredentials('110000'))).toEqual({ who: '130000' });
      } finally {
        s.forceShutdown();
      }
    });
  });
});
