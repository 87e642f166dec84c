import { Logger } from '@nestjs/common';
import { statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createSecureContext, PeerCertificate, SecureContext } from 'node:tls';
import { ChannelCredentials, experimental, ServerCredentials } from '@grpc/grpc-js';
import { participantFromSubjectAltName } from './identity';
import { issuedBy, loadTlsMaterial, parseCertificates, TlsFiles, TlsMaterial } from './tls-material';

type CaListener = (u: { caCertificate: Buffer } | null) => void;
/** A peer certificate as Node gives it with `getPeerCertificate(true)`: with its issuers. */
type DetailedCertificate = PeerCertificate & { issuerCertificate?: DetailedCertificate };
type IdentityListener = (u: { certificate: Buffer; privateKey: Buffer } | null) => void;

/** How the federation port is secured: mutual TLS, or (development flag) not at all. */
export type TransportSettings = ({ kind: 'mtls'; reloadSeconds: number } & TlsFiles) | { kind: 'insecure' };

/** A call's authenticated transport peer, as the gRPC server sees it. */
export interface AuthenticatedCall {
  getAuthContext?(): { transportSecurityType?: string; sslPeerCertificate?: PeerCertificate } | null;
}

/** A change of the TLS material in use (or a change that was refused), for the audit trail. */
export type TransportEvent =
  { kind: 'reloaded'; fingerprint: string; previousFingerprint: string | null; notAfter: string; trustedCas: number } | { kind: 'reload_failed'; problem: string; keptFingerprint: string | null };

/** Why a TLS handshake on the federation port failed (a closed list, for metrics and logs). */
export type HandshakeFailure = 'NO_CLIENT_CERTIFICATE' | 'UNTRUSTED_CERTIFICATE' | 'EXPIRED_CERTIFICATE' | 'NOT_TLS' | 'CONNECTION_RESET' | 'OTHER';

/** A socket's authorizationError as text: its code, its message, or the string itself ('' when none). */
function authorizationText(e: unknown): string {
  if (e === undefined || e === null) return '';
  if (typeof e === 'string') return e;
  const { code, message } = e as { code?: unknown; message?: unknown };
  return typeof code === 'string' ? code : typeof message === 'string' ? message : 'UNKNOWN';
}

/**
 * Maps a refused handshake to a HandshakeFailure. With TLS 1.3 the server's verdict on the client
 * certificate is in the socket's `authorizationError` (e.g. SELF_SIGNED_CERT_IN_CHAIN) while the
 * error itself is often just a reset.
 */
export function handshakeReason(err: Error & { code?: string }, authorizationError?: unknown): HandshakeFailure {
  const auth = authorizationText(authorizationError);
  if (/EXPIRED/i.test(auth)) return 'EXPIRED_CERTIFICATE';
  if (auth) return 'UNTRUSTED_CERTIFICATE';
  const code = `${err.code ?? ''} ${err.message}`;
  if (/PEER_DID_NOT_RETURN_A_CERTIFICATE|CERTIFICATE_REQUIRED/i.test(code)) return 'NO_CLIENT_CERTIFICATE';
  if (/CERTIFICATE_EXPIRED|certificate has expired/i.test(code)) return 'EXPIRED_CERTIFICATE';
  if (/UNKNOWN_CA|CERTIFICATE_VERIFY_FAILED|unable to (get|verify)|self[- ]signed|BAD_CERTIFICATE/i.test(code)) return 'UNTRUSTED_CERTIFICATE';
  if (/WRONG_VERSION_NUMBER|HTTP_REQUEST|UNKNOWN_PROTOCOL|packet length too long/i.test(code)) return 'NOT_TLS';
  if (/ECONNRESET|socket hang up/i.test(code)) return 'CONNECTION_RESET';
  return 'OTHER';
}

/** What `/health` and `/admin/tls` report (no key material). */
export interface TransportStatus {
  mode: 'mtls' | 'insecure';
  participant?: string;
  notBefore?: string;
  notAfter?: string;
  fingerprint?: string;
  trustedCas?: string[];
  lastReloadAt?: string;
  lastReloadError?: string | null;
}

/**
 * Mutual TLS for the federation port and for calls to peers. Both ends present a certificate
 * naming their participant; the server asks for and verifies the client's certificate, the client
 * checks that the server's certificate names the participant it meant to call. The files are
 * re-read when they change (every `reloadSeconds`), so a renewed certificate or CA bundle takes
 * effect for new connections without a restart; a bad new file is logged and the old one kept.
 *
 * It is its own grpc-js CertificateProvider (CA and identity), so the server follows the reloads;
 * peer channels use one shared client context, rebuilt on a reload (channelCredentials then returns
 * new credentials, and PeerClient opens a new channel with them).
 */
export class TransportSecurity {
  private readonly logger = new Logger('TransportSecurity');
  private material: TlsMaterial | null = null;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  /**
   * One client TLS context for every peer connection, built once per version of the material
   * (grpc-js's certificate-provider credentials build a new one, re-parsing the CA bundle,
   * certificate and key, for every connection it opens).
   */
  private clientContext: SecureContext | undefined;
  private readonly channels = new Map<string, { context: SecureContext; credentials: ChannelCredentials }>();
  private insecureChannel: ChannelCredentials | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stamp = '';
  private extraCas: string[] = [];
  /** Participant → the CAs the directory lists for it: its certificate must be issued by one. */
  private pins = new Map<string, X509Certificate[]>();
  /** Directory mode: a participant the directory lists no `tlsCa` for is accepted by no CA. */
  private pinsRequired = false;
  private readonly pinVerdicts = new Map<string, boolean>();
  /** Bumped when the pins change: cached per-connection identities from before are recomputed. */
  private pinGeneration = 0;
  /** Per HTTP/2 session (one TLS connection): the participant its client certificate names. */
  private readonly sessions = new WeakMap<object, { generation: number; code: string | null }>();
  private lastReloadAt: Date | undefined;
  private lastReloadError: string | null = null;
  private server: ServerCredentials | undefined;
  private readonly listeners = new Set<(e: TransportEvent) => void>();

  constructor(
    readonly settings: TransportSettings,
    private readonly code: string,
    private readonly production: boolean,
  ) {
    if (settings.kind === 'mtls') {
      this.material = loadTlsMaterial(settings, code, { production });
      this.stamp = this.fileStamp();
      this.lastReloadAt = new Date();
    }
  }

  /** Calls `listener` for every reload that changed the material, and every reload refused. */
  onChange(listener: (e: TransportEvent) => void): void {
    this.listeners.add(listener);
  }

  private emit(e: TransportEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.logger.error(`transport listener failed: ${(err as Error).message}`);
      }
    }
  }

  get secure(): boolean {
    return this.settings.kind === 'mtls';
  }

  /** Starts watching the files (no-op without TLS or with reloadSeconds 0). */
  watch(): void {
    if (this.settings.kind !== 'mtls' || this.settings.reloadSeconds <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (this.fileStamp() !== this.stamp) this.reload();
    }, this.settings.reloadSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Re-reads the files (and re-applies the directory's CAs); on success new connections use the
   * new material at once. Returns false, keeping the old material, when a file is wrong.
   */
  reload(): boolean {
    if (this.settings.kind !== 'mtls') return false;
    const stamp = this.fileStamp();
    try {
      const next = loadTlsMaterial(this.settings, this.code, { production: this.production, extraCas: this.extraCas });
      const changed = !this.material || next.fingerprint !== this.material.fingerprint || !next.caBundle.equals(this.material.caBundle);
      const previousFingerprint = this.material?.fingerprint ?? null;
      this.material = next;
      this.stamp = stamp;
      this.lastReloadAt = new Date();
      this.lastReloadError = null;
      if (changed) {
        this.logger.log(`TLS material loaded: certificate ${next.fingerprint.slice(0, 16)}… valid to ${next.notAfter.toISOString()}, ${next.caSubjects.length} trusted CA(s)`);
        this.publish();
        this.emit({ kind: 'reloaded', fingerprint: next.fingerprint, previousFingerprint, notAfter: next.notAfter.toISOString(), trustedCas: next.caSubjects.length });
      }
      return true;
    } catch (e) {
      this.stamp = stamp; // do not retry the same broken files every tick; a new edit is retried
      this.lastReloadError = (e as Error).message;
      this.logger.error(`TLS files changed but cannot be used; keeping the previous ones: ${(e as Error).message}`);
      this.emit({ kind: 'reload_failed', problem: (e as Error).message.slice(0, 300), keptFingerprint: this.material?.fingerprint ?? null });
      return false;
    }
  }

  /**
   * The TLS CAs the federation directory publishes per participant (`tlsCa`, PEM). They are
   * trusted in addition to TONGBAN_TLS_CA from the next connection on, and they are pinned: a
   * certificate naming a listed participant must be issued directly by one of its listed CAs,
   * so that no other CA of the federation can speak for it.
   */
  setDirectoryCas(byParticipant: Record<string, string>): void {
    const pins = new Map<string, X509Certificate[]>();
    for (const [code, pem] of Object.entries(byParticipant)) {
      const cas = parseCertificates(pem, `directory tlsCa of ${code}`).filter((c) => c.ca);
      if (cas.length) pins.set(code, cas);
    }
    const next = [...new Set([...pins.values()].flat().map((c) => c.toString().trim()))].sort();
    const pinKey = (m: Map<string, X509Certificate[]>) => JSON.stringify([...m].map(([k, v]) => [k, v.map((c) => c.fingerprint256)]).sort());
    if (pinKey(pins) !== pinKey(this.pins)) {
      this.pins = pins;
      this.pinVerdicts.clear();
      this.pinGeneration++;
    }
    if (next.join('\n') === this.extraCas.join('\n')) return;
    this.extraCas = next;
    if (this.settings.kind === 'mtls') this.reload();
  }

  /**
   * Directory mode: from now on a certificate is accepted only for a participant the directory in
   * use pins a CA for (`tlsCa`). Without this, an unpinned participant could be named by any CA in
   * the bundle, and the bundle holds every province's CA: one province could speak for another.
   * Until a directory is in use, no participant is pinned, so none is accepted.
   */
  requireDirectoryPins(): void {
    if (this.pinsRequired) return;
    this.pinsRequired = true;
    this.pinVerdicts.clear();
    this.pinGeneration++;
  }

  /** Whether a certificate naming `code` can be accepted at all (false: directory mode and no `tlsCa` for it). */
  acceptsParticipant(code: string): boolean {
    return !this.pinsRequired || this.pins.has(code);
  }

  /**
   * Watches the TLS listeners of a started grpc-js server for refused handshakes (they never reach
   * a handler, so nothing else records them): `onFailure` gets a short reason and the remote
   * address. grpc-js keeps its HTTP/2 servers in a private map; returns how many were found, so a
   * caller (and a test) can tell when an upgrade moved it.
   */
  observeHandshakes(grpcServer: unknown, onFailure: (reason: HandshakeFailure, remote: string) => void): number {
    if (this.settings.kind !== 'mtls') return 0;
    const servers = (grpcServer as { http2Servers?: Map<unknown, unknown> } | undefined)?.http2Servers;
    let n = 0;
    for (const s of servers?.keys() ?? []) {
      const emitter = s as { on?(event: 'tlsClientError', fn: (err: Error & { code?: string }, socket: { remoteAddress?: string; authorizationError?: unknown }) => void): void };
      if (typeof emitter.on !== 'function') continue;
      emitter.on('tlsClientError', (err, socket) => onFailure(handshakeReason(err, socket?.authorizationError), socket?.remoteAddress ?? 'unknown'));
      n++;
    }
    return n;
  }

  /** Credentials for the federation port: TLS asking for (and requiring) a client certificate. */
  serverCredentials(): ServerCredentials {
    if (this.settings.kind !== 'mtls') return ServerCredentials.createInsecure();
    if (!this.server) {
      this.server = experimental.createCertificateProviderServerCredentials(this.provider(), this.provider(), true);
      // grpc-js reads the credentials' current context when it creates the listener and only
      // then adds its own watcher; a first watcher subscribes to the providers now, so the
      // context exists from the first connection on (and later reloads reach every watcher).
      this.server._addWatcher(() => undefined);
    }
    return this.server;
  }

  /**
   * Credentials for calling `peerCode`: our certificate, and a check that theirs names `peerCode`.
   * The same object is returned until the TLS material changes (a reload): a caller that caches a
   * channel compares it to know when to open a new one, so new connections use the new material.
   */
  channelCredentials(peerCode: string): ChannelCredentials {
    if (this.settings.kind !== 'mtls') return (this.insecureChannel ??= ChannelCredentials.createInsecure());
    const context = (this.clientContext ??= this.newClientContext());
    const cached = this.channels.get(peerCode);
    if (cached?.context === context) return cached.credentials;
    const credentials = ChannelCredentials.createFromSecureContext(context, {
      // rejectUnauthorized stays at its default (true): the chain must verify against our CA bundle.
      checkServerIdentity: (_host: string, cert: PeerCertificate) => {
        const named = participantFromSubjectAltName(cert.subjectaltname);
        if (named !== peerCode) return new Error(`the server's certificate is for ${named ? `participant ${named}` : 'no participant'}, not ${peerCode}`);
        if (!this.acceptsParticipant(peerCode)) return new Error(`the federation directory lists no tlsCa for ${peerCode}: in directory mode an unpinned participant is not accepted`);
        if (!this.pinned(named, cert)) return new Error(`the server's certificate for ${peerCode} is not issued by a CA the federation directory lists for ${peerCode}`);
        return undefined;
      },
    });
    this.channels.set(peerCode, { context, credentials });
    return credentials;
  }

  private newClientContext(): SecureContext {
    const m = this.material!;
    return createSecureContext({ ca: m.caBundle, cert: m.certificateChain, key: m.privateKey });
  }

  /**
   * The participant a call's client certificate names: a code, or null when it names none.
   * Undefined without TLS (development flag): there is nothing to compare.
   */
  peerOf(call: AuthenticatedCall | undefined): string | null | undefined {
    if (this.settings.kind !== 'mtls') return undefined;
    // The client certificate cannot change within a TLS connection (HTTP/2 forbids renegotiation),
    // so the answer is kept per connection: reading the certificate costs ~50 µs per call.
    const session = TransportSecurity.sessionOf(call);
    const cached = session ? this.sessions.get(session) : undefined;
    if (cached && cached.generation === this.pinGeneration) return cached.code;
    // With the connection at hand, read the certificate with its chain (intermediates matter for
    // directory pinning); otherwise the leaf grpc-js exposes.
    const detailed = (session as { socket?: { getPeerCertificate?(detailed: boolean): PeerCertificate } } | undefined)?.socket?.getPeerCertificate?.(true);
    const cert = detailed?.raw ? detailed : call?.getAuthContext?.()?.sslPeerCertificate;
    const named = cert ? participantFromSubjectAltName(cert.subjectaltname) : null;
    const code = named !== null && this.pinned(named, cert!) ? named : null;
    if (session) this.sessions.set(session, { generation: this.pinGeneration, code });
    return code;
  }

  /**
   * The HTTP/2 session (TLS connection) a grpc-js server call runs on, or undefined when grpc-js
   * does not expose it the expected way (then every call reads the certificate itself). grpc-js
   * keeps it at call.call[.nextCall…].stream.session; transport-security.integration-spec.ts checks
   * that this still holds.
   */
  static sessionOf(call: unknown): object | undefined {
    let c = (call as { call?: unknown } | undefined)?.call as { stream?: { session?: object }; nextCall?: unknown } | undefined;
    for (let i = 0; i < 8 && c && !c.stream; i++) c = c.nextCall as typeof c;
    const session = c?.stream?.session;
    return typeof session === 'object' && session !== null ? session : undefined;
  }

  /**
   * Whether `cert` (naming `code`) comes from a CA the directory lists for `code`: the listed CA
   * signed it, or signed an intermediate that signed it (each link checked by signature here: the
   * chain a peer presents may carry extra certificates, such as a copy of the listed CA itself).
   * When the directory lists no CA for `code`: true, except in directory mode (requireDirectoryPins),
   * where an unpinned participant is refused.
   */
  private pinned(code: string, cert: PeerCertificate): boolean {
    const cas = this.pins.get(code);
    if (!cas) {
      if (!this.pinsRequired) return true;
      this.warnUnpinned(code);
      return false;
    }
    const key = `${code}/${cert.fingerprint256}`;
    let ok = this.pinVerdicts.get(key);
    if (ok === undefined) {
      ok = false;
      try {
        let current = new X509Certificate(cert.raw);
        let next: DetailedCertificate | undefined = (cert as DetailedCertificate).issuerCertificate;
        for (let depth = 0; depth < 5 && !ok; depth++) {
          ok = cas.some((ca) => issuedBy(current, ca));
          if (ok || !next?.raw) break;
          const issuer = new X509Certificate(next.raw);
          if (!issuer.ca || issuer.fingerprint256 === current.fingerprint256 || !issuedBy(current, issuer)) break; // not a CA, the self-signed end, or not a real link
          current = issuer;
          next = next.issuerCertificate;
        }
      } catch {
        ok = false;
      }
      if (this.pinVerdicts.size > 1000) this.pinVerdicts.clear();
      this.pinVerdicts.set(key, ok);
      if (!ok) this.logger.warn(`a TLS certificate for ${code} (SHA-256 ${cert.fingerprint256}) is not issued by the CA the federation directory lists for ${code}: treated as naming no participant`);
    }
    return ok;
  }

  private readonly unpinnedWarned = new Map<string, number>();

  /** At most one log line a minute per participant: a peer retrying must not flood the log. */
  private warnUnpinned(code: string): void {
    const now = Date.now();
    if ((this.unpinnedWarned.get(code) ?? 0) > now - 60_000) return;
    if (this.unpinnedWarned.size > 1000) this.unpinnedWarned.clear();
    this.unpinnedWarned.set(code, now);
    this.logger.warn(
      `a TLS certificate for ${code} was presented, but the federation directory lists no tlsCa for ${code}: in directory mode an unpinned participant is refused (treated as naming no participant)`,
    );
  }

  /** Seconds until our certificate expires (null without TLS). */
  secondsToExpiry(now = Date.now()): number | null {
    return this.material ? Math.floor((this.material.notAfter.getTime() - now) / 1000) : null;
  }

  status(): TransportStatus {
    if (!this.material) return { mode: 'insecure' };
    return {
      mode: 'mtls',
      participant: this.material.participant,
      notBefore: this.material.notBefore.toISOString(),
      notAfter: this.material.notAfter.toISOString(),
      fingerprint: this.material.fingerprint,
      trustedCas: this.material.caSubjects,
      lastReloadAt: this.lastReloadAt?.toISOString(),
      lastReloadError: this.lastReloadError,
    };
  }

  private fileStamp(): string {
    if (this.settings.kind !== 'mtls') return '';
    return [this.settings.certFile, this.settings.keyFile, this.settings.caFile]
      .map((f) => {
        try {
          const s = statSync(f);
          return `${s.mtimeMs}:${s.size}:${s.ino}`;
        } catch {
          return 'missing';
        }
      })
      .join('|');
  }

  private publish(): void {
    const m = this.material!;
    this.clientContext = undefined; // the next channel credentials use the new material
    for (const l of this.caListeners) l({ caCertificate: m.caBundle });
    for (const l of this.identityListeners) l({ certificate: m.certificateChain, privateKey: m.privateKey });
  }

  private provider(): experimental.CertificateProvider {
    return {
      addCaCertificateListener: (l: CaListener) => {
        this.caListeners.add(l);
        l(this.material ? { caCertificate: this.material.caBundle } : null);
      },
      removeCaCertificateListener: (l: CaListener) => void this.caListeners.delete(l),
      addIdentityCertificateListener: (l: IdentityListener) => {
        this.identityListeners.add(l);
        l(this.material ? { certificate: this.material.certificateChain, privateKey: this.material.privateKey } : null);
      },
      removeIdentityCertificateListener: (l: IdentityListener) => void this.identityListeners.delete(l),
    };
  }
}
