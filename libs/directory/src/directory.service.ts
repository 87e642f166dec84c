import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { AuditLog } from '@tongban/audit';
import { Clock, SELF_CODE } from '@tongban/common';
import { KeyStore } from '@tongban/keys';
import { TransportSecurity } from '@tongban/tls';
import { TrustStore } from '@tongban/trust';
import { DirectoryApplier, DirectoryChanges, StoredDirectory } from './directory-applier';
import { DirectoryDocument, tlsCaFingerprint } from './directory-document';
import { DIRECTORY_OPTIONS, DirectoryOptions } from './directory.options';
import { DirectorySource } from './directory-source';
import { DirectoryError, DirectoryStatus, directoryStatus } from './directory-status';
import { AnchorKey, DirectoryRefusal, HeldDirectory, checkFreshness, loadAnchor, verifyDirectory } from './directory-verifier';

/** What one check of the source did. */
export type RefreshOutcome =
  { outcome: 'off' } | { outcome: 'applied'; serial: number; changes: DirectoryChanges } | { outcome: 'unchanged'; serial: number } | { outcome: 'refused'; refusal: DirectoryRefusal };

/** `GET /admin/directory`: the status and the directory in use. */
export interface DirectoryView extends DirectoryStatus {
  source: string | null;
  anchorKid: string | null;
  /** Every configured anchor key (two during a rollover). */
  anchorKids: string[];
  issuedAt: string | null;
  appliedAt: string | null;
  lastCheckAt: string | null;
  participants: { code: string; name: string; endpoint: string; status: string; keys: { kid: string; status: string }[]; tlsCaSha256: string | null }[];
}

interface Current {
  document: DirectoryDocument;
  jws: string;
  appliedAt: Date | null;
}

const AUDIT_ACTOR = 'directory';

/**
 * Keeps the trust store in line with the federation directory signed by the national trust anchor:
 * checks the source at boot and every `refreshSeconds`, applies a newer valid directory in one
 * transaction, refuses anything else with a typed reason (audited), and keeps serving from the last
 * good copy when the source is late, unreachable or bad. An expired directory is still used (status
 * `degraded`, then `expired` past the grace): nothing is removed and the gateway never stops for it.
 */
@Injectable()
export class DirectoryService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Directory');
  private anchor: AnchorKey | null = null;
  private current: Current | null = null;
  private lastError: DirectoryError | null = null;
  private lastCheckAt: Date | null = null;
  private lastRefusal: string | null = null;
  private badStored: string | null = null;
  private running: Promise<RefreshOutcome> | null = null;
  private applying: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private unpinnedWarned = '';

  constructor(
    @Inject(DIRECTORY_OPTIONS) private readonly options: DirectoryOptions,
    private readonly source: DirectorySource,
    private readonly applier: DirectoryApplier,
    private readonly trust: TrustStore,
    private readonly keys: KeyStore,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    @Inject(SELF_CODE) private readonly self: string,
    @Optional() private readonly transport?: TransportSecurity,
  ) {}

  /** The directory in use becomes `c`; its participants' TLS CAs go to the transport (trusted and pinned). */
  private use(c: Current): void {
    this.current = c;
    this.transport?.setDirectoryCas(Object.fromEntries(c.document.participants.filter((p) => p.tlsCa).map((p) => [p.code, p.tlsCa!])));
    const unpinned = unpinnedParticipants(c.document, this.self).join(', ');
    if (this.transport?.secure && unpinned && unpinned !== this.unpinnedWarned) {
      this.logger.warn(
        `directory serial ${c.document.serial} lists no tlsCa for participant(s) ${unpinned}: in directory mode their TLS connections are refused (both ways) until the directory pins a CA for them`,
      );
    }
    this.unpinnedWarned = unpinned;
  }

  /** Loads the anchor and the stored directory, checks the source once, then every refreshSeconds. */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.options.enabled) return;
    this.anchor = loadAnchor(this.options.anchorJwk);
    // Pinning is what makes the directory's CAs safe to trust: from here on, a participant without
    // a `tlsCa` in the directory in use is accepted by no CA (docs/operations.md §17.2).
    this.transport?.requireDirectoryPins();
    this.logger.log(`directory mode: anchor ${[...this.anchor.keys.keys()].join(' + ')}, source ${this.source.location}, every ${this.options.refreshSeconds} s, grace ${this.options.graceSeconds} s`);
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.refreshSeconds * 1000);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.applying;
  }

  /** Mode, serial and validity of the directory in use, and the last failed check. */
  status(): DirectoryStatus {
    const c = this.current?.document;
    return directoryStatus(this.options.enabled, c ? { serial: c.serial, notAfter: c.notAfter } : null, this.clock.now().getTime(), this.graceMs(), this.lastError);
  }

  /** The status with the directory in use, for administrators. */
  view(): DirectoryView {
    const c = this.current;
    return {
      ...this.status(),
      source: this.options.enabled ? this.source.location : null,
      anchorKid: this.anchor?.kid ?? null,
      anchorKids: [...(this.anchor?.keys.keys() ?? [])],
      issuedAt: c?.document.issuedAt ?? null,
      appliedAt: c?.appliedAt?.toISOString() ?? null,
      lastCheckAt: this.lastCheckAt?.toISOString() ?? null,
      participants: (c?.document.participants ?? []).map((p) => ({
        code: p.code,
        name: p.name,
        endpoint: p.endpoint,
        status: p.status,
        keys: p.keys.map((k) => ({ kid: k.kid, status: k.status })),
        tlsCaSha256: tlsCaFingerprint(p.tlsCa),
      })),
    };
  }

  /** One check of the source (concurrent calls share it). Never throws. */
  refresh(): Promise<RefreshOutcome> {
    if (!this.options.enabled || !this.anchor) return Promise.resolve({ outcome: 'off' });
    this.running ??= this.check()
      .catch((e: Error): RefreshOutcome => {
        // During shutdown the database may already be closing: not worth an error line.
        if (!this.stopped) this.logger.error(`directory check failed: ${e.message}`);
        return { outcome: 'refused', refusal: { ok: false, reason: 'UNREACHABLE', message: `internal: ${e.message}`.slice(0, 300) } };
      })
      .finally(() => {
        this.running = null;
        this.reportValidity();
      });
    return this.running;
  }

  private async check(): Promise<RefreshOutcome> {
    const anchor = this.anchor!;
    // Another replica may have applied a newer directory to the shared database.
    await this.adopt(await this.applier.load());
    let text: string;
    try {
      text = await this.source.read();
    } catch (e) {
      return this.refused({ ok: false, reason: 'UNREACHABLE', message: `${(e as Error).message}`.slice(0, 300) }, `UNREACHABLE|${(e as Error).message}`);
    }
    if (this.stopped) return { outcome: 'off' };
    const fingerprint = createHash('sha256').update(text).digest('base64url');
    const verified = await verifyDirectory(text, anchor);
    if (!verified.ok) return this.refused(verified, `${verified.reason}|${fingerprint}`);
    const now = this.clock.now();
    const freshness = checkFreshness(verified.document, verified.jws, this.held(this.current), now.getTime(), this.graceMs(), this.skewMs());
    if (!freshness.ok) return this.refused(freshness, `${freshness.reason}|${fingerprint}`);
    if (freshness.unchanged) return this.succeeded({ outcome: 'unchanged', serial: verified.document.serial });

    let refusal: DirectoryRefusal | null = null;
    const work = this.applier.apply(verified.document, verified.jws, now, async (stored) => {
      const f = checkFreshness(verified.document, verified.jws, this.held(await this.verifiedStored(stored)), now.getTime(), this.graceMs(), this.skewMs());
      if (!f.ok) refusal = f;
      return f.ok && !f.unchanged;
    });
    this.applying = work.catch(() => undefined);
    const changes = await work;
    if (!changes) {
      // Lost a race with another replica: take what it stored.
      await this.adopt(await this.applier.load());
      return refusal ? this.refused(refusal, `${(refusal as DirectoryRefusal).reason}|${fingerprint}`) : this.succeeded({ outcome: 'unchanged', serial: verified.document.serial });
    }
    this.use({ document: verified.document, jws: verified.jws, appliedAt: now });
    // The change is committed; other replicas reload it at the commit (PostgreSQL: the admin tables' trigger, AdminStateReload).
    await this.trust.refresh().catch(() => undefined); // a failed reload is logged and retried by the store
    this.logApplied(verified.document, changes);
    await this.record({
      event: 'directory.applied',
      actor: AUDIT_ACTOR,
      subject: `serial ${verified.document.serial}`,
      outcome: 'OK',
      details: {
        serial: verified.document.serial,
        notAfter: verified.document.notAfter,
        anchor: verified.kid,
        added: changes.added.join(','),
        updated: changes.updated.join(','),
        keysAdded: changes.keysAdded,
        keysChanged: changes.keysChanged,
        ...(changes.skipped.length ? { skipped: changes.skipped.join(',') } : {}),
        ...(unpinnedParticipants(verified.document, this.self).length ? { unpinned: unpinnedParticipants(verified.document, this.self).join(',') } : {}),
      },
    });
    return this.succeeded({ outcome: 'applied', serial: verified.document.serial, changes });
  }

  /** Takes the stored directory as current when it is another (and verifies with our anchor). */
  private async adopt(stored: StoredDirectory): Promise<void> {
    if (!stored.jws || stored.jws === this.current?.jws) return;
    const held = await this.verifiedStored(stored);
    if (held) this.use({ document: held.document, jws: held.jws, appliedAt: stored.appliedAt });
  }

  /** The stored directory if it verifies with the configured anchor (an anchor change voids it). */
  private async verifiedStored(stored: StoredDirectory): Promise<Current | null> {
    if (!stored.jws) return null;
    if (stored.jws === this.current?.jws) return this.current;
    const v = await verifyDirectory(stored.jws, this.anchor!);
    if (v.ok) return { document: v.document, jws: v.jws, appliedAt: stored.appliedAt };
    if (this.badStored !== stored.jws) {
      this.badStored = stored.jws;
      this.logger.error(`the stored directory (serial ${stored.serial}) does not verify with the configured anchor (${v.reason}): it is ignored; the next valid directory from the source is applied`);
    }
    return null;
  }

  private held(c: Current | null): HeldDirectory | null {
    return c ? { serial: c.document.serial, issuedAt: c.document.issuedAt, jws: c.jws } : null;
  }

  private succeeded(outcome: RefreshOutcome): RefreshOutcome {
    this.lastCheckAt = this.clock.now();
    this.lastError = null;
    this.lastRefusal = null;
    return outcome;
  }

  /** Keeps the current directory; logs and audits a refusal once per distinct document or error. */
  private async refused(refusal: DirectoryRefusal, key: string): Promise<RefreshOutcome> {
    const now = this.clock.now();
    this.lastCheckAt = now;
    this.lastError = { reason: refusal.reason, message: refusal.message, at: now.toISOString() };
    const keeping = this.current ? `keeping serial ${this.current.document.serial}` : 'no directory in use yet';
    if (this.lastRefusal === key) {
      this.logger.debug(`directory from ${this.source.location} still refused: ${refusal.reason}`);
      return { outcome: 'refused', refusal };
    }
    this.lastRefusal = key;
    this.logger.warn(`directory from ${this.source.location} refused: ${refusal.reason}: ${refusal.message} (${keeping})`);
    await this.record({
      event: 'directory.refused',
      actor: AUDIT_ACTOR,
      subject: refusal.serial !== undefined ? `serial ${refusal.serial}` : this.source.location.slice(-200),
      outcome: 'REFUSED',
      reason: refusal.reason,
      details: { message: refusal.message.slice(0, 300), source: this.source.location.slice(-200), ...(this.current ? { keeping: this.current.document.serial } : {}) },
    });
    return { outcome: 'refused', refusal };
  }

  private logApplied(doc: DirectoryDocument, c: DirectoryChanges): void {
    this.logger.log(
      `applied directory serial ${doc.serial} (valid until ${doc.notAfter}): added [${c.added.join(', ')}], updated [${c.updated.join(', ')}], ${c.keysAdded} key(s) added, ${c.keysChanged} key status(es) changed`,
    );
    if (c.skipped.length)
      this.logger.warn(
        `directory serial ${doc.serial} lists participant(s) this gateway does not know, not applied: ${c.skipped.join(', ')} (update data/participants.json or TONGBAN_EXTRA_PARTICIPANTS)`,
      );
    if (c.notListed.length) this.logger.log(`local peer(s) not in directory serial ${doc.serial}, left as they are: ${c.notListed.join(', ')}`);
    const me = doc.participants.find((p) => p.code === this.self);
    if (!me) this.logger.warn(`this gateway (${this.self}) is not in directory serial ${doc.serial}: peers that bootstrap from it will not know us`);
    else if (me.keys.find((k) => k.kid === this.keys.activeKid())?.status !== 'ACTIVE') {
      this.logger.warn(`our signing key ${this.keys.activeKid()} is not ACTIVE for ${this.self} in directory serial ${doc.serial}: ask the national platform to publish it`);
    }
  }

  /** Loud on every check while the directory in use is past its notAfter. */
  private reportValidity(): void {
    const s = this.status();
    if (s.mode === 'degraded' && s.serial !== null) {
      this.logger.warn(`directory serial ${s.serial} expired at ${s.notAfter}: still used during the grace period, until ${s.graceUntil}; publish a new directory`);
    } else if (s.mode === 'expired') {
      this.logger.error(`directory serial ${s.serial} expired at ${s.notAfter} and its grace period ended at ${s.graceUntil}: still serving from it, nothing removed; publish a new directory now`);
    } else if (s.mode === 'degraded') {
      this.logger.warn(`no directory applied yet${s.lastError ? `: ${s.lastError.reason}: ${s.lastError.message}` : ''}`);
    }
  }

  private async record(r: Parameters<AuditLog['recordNow']>[0]): Promise<void> {
    try {
      await this.audit.recordNow(r);
    } catch (e) {
      this.logger.error(`audit ${r.event} not written: ${(e as Error).message}`);
    }
  }

  private graceMs(): number {
    return this.options.enabled ? this.options.graceSeconds * 1000 : 0;
  }

  private skewMs(): number {
    return this.options.enabled ? this.options.clockSkewSeconds * 1000 : 0;
  }
}

/** Participants (other than ourselves) the directory lists without a `tlsCa`: refused over TLS in directory mode. */
export function unpinnedParticipants(doc: DirectoryDocument, self: string): string[] {
  return doc.participants.filter((p) => !p.tlsCa && p.code !== self).map((p) => p.code);
}
