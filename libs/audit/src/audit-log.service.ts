import { setTimeout as delay } from 'node:timers/promises';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { Clock, SELF_CODE } from '@tongban/common';
import { KeyStore } from '@tongban/keys';
import { SqliteTurn, isUniqueViolation, runInTransaction, runInTurn } from '@tongban/persistence';
import { AUDIT_CHECKPOINT_TYP, AuditCheckpointClaims, AuditHashAlg, GENESIS_HASH, auditEntryHash, checkpointLink, hashAlgColumn } from './audit-chain';
import { ChainedEntry, HEAD_SQL, appendAfterHead, entryInserts, headOf, insertCheckpoint, insertEntries, lastCheckpoint, lockChain, readHead } from './audit-chain.store';
import { appendCheckpointLine } from './audit-checkpoint-export';
import { AuditCheckpointEntity } from './audit-checkpoint.entity';
import { AuditEventEntity } from './audit-event.entity';
import { AuditRecord } from './audit-events';

const FLUSH_EVERY_MS = 50;
const FLUSH_AT = 500;
const APPEND_ATTEMPTS = 10;

/** What checkpoints are signed with: the KeyStore (signs by reference; no key material here). */
export interface AuditSigner {
  signJws(typ: string, claims: object): string;
  activeKid(): string;
}

export interface AuditLogOptions {
  /** Seconds between checkpoints (written only when the chain moved); 0 disables. Default 300. */
  checkpointEverySeconds?: number;
  /** Also a checkpoint once this many entries were appended since the last one; 0 disables. Default 10000. */
  checkpointEveryEntries?: number;
  /** Where each checkpoint is also appended (JSON lines, fsynced) after it is committed; none when absent. */
  checkpointFile?: string | null;
  /** Hash of the entries this log appends (TONGBAN_AUDIT_HASH); each entry records its own. Default SHA-256. */
  hashAlg?: AuditHashAlg;
  /** Told when a checkpoint could not be written (`sign`) or exported (`export`); for metrics. */
  onCheckpointFailure?: (stage: 'sign' | 'export') => void;
}

/** What is not yet sealed by a checkpoint (read from the shared database, so every replica agrees). */
export interface AuditSealingStatus {
  headSeq: number;
  /** Seq of the newest checkpoint (0 when none). */
  sealedSeq: number;
  /** Epoch ms of the newest checkpoint, if any. */
  lastCheckpointAt?: number;
  /** Epoch ms of the oldest entry after the newest checkpoint, if any. */
  oldestUnsealedAt?: number;
}

/** Injection token for AuditLogOptions. */
export const AUDIT_LOG_OPTIONS = Symbol('AUDIT_LOG_OPTIONS');

type PendingEntry = Omit<ChainedEntry, 'seq' | 'prevHash' | 'hash' | 'hashAlg'>;

/** Column widths of audit_events (PostgreSQL enforces them; one over-long value must not lose a batch). */
const WIDTH = { event: 64, actor: 64, subject: 256, outcome: 16, reason: 64, messageId: 64 } as const;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Stores exactly what the hash covers: drivers write UTF-8, which cannot hold a lone surrogate
 * (it would come back as U+FFFD and the entry would no longer match its hash), and PostgreSQL
 * text cannot hold NUL. Truncates by code points, as varchar(n) counts them.
 */
function clean(s: string, width: number): string {
  const c = s.replace(LONE_SURROGATE, '\uFFFD').replaceAll('\u0000', '\uFFFD');
  return c.length <= width ? c : Array.from(c).slice(0, width).join('');
}

const retryable = (e: unknown) =>
  isUniqueViolation(e) || /^SQLITE_BUSY/.test(String((e as { driverError?: { code?: string }; code?: string })?.driverError?.code ?? (e as { code?: string })?.code ?? ''));

/**
 * Appends audit entries to a hash chain. Refusals and admin actions are written before the call
 * returns (`recordNow`); high-volume entries (`record`) are written in small batches every 50 ms, so
 * a hard kill can lose at most the last batch of routine entries, never a refusal. Each write is one
 * transaction (on SQLite a savepoint in the turn's shared write transaction) that reads the chain
 * head and assigns seq and hashes (under an advisory lock on
 * PostgreSQL), so replicas sharing a database extend one chain. With a signer, the head is signed
 * into `audit_checkpoints` every few minutes and at shutdown.
 */
@Injectable()
export class AuditLog implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('AuditLog');
  private readonly repo: Repository<AuditEventEntity>;
  private pending: PendingEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly everyEntries: number;
  private readonly checkpointFile: string | null;
  /** `hash_alg` of the entries this log appends (null = SHA-256). */
  private readonly hashAlg: string | null;
  private readonly onCheckpointFailure: (stage: 'sign' | 'export') => void;
  /** Seq of the newest checkpoint this process knows of (undefined until the first checkpoint call). */
  private sealedSeq: number | undefined;
  private sealingByCount: Promise<void> | undefined;
  /** PostgreSQL: the head this process appended last, committed (appendAfterKnownHead chains onto it). */
  private knownHead: { seq: number; hash: string } | undefined;

  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
    @Optional() @Inject(KeyStore) private readonly signer?: AuditSigner,
    @Optional() @Inject(SELF_CODE) private readonly selfCode?: string,
    @Optional() @Inject(AUDIT_LOG_OPTIONS) options: AuditLogOptions = {},
  ) {
    this.repo = ds.getRepository(AuditEventEntity);
    const every = options?.checkpointEverySeconds ?? 300;
    this.everyEntries = signer ? (options?.checkpointEveryEntries ?? 10_000) : 0;
    this.checkpointFile = options?.checkpointFile ?? null;
    this.hashAlg = hashAlgColumn(options?.hashAlg ?? 'SHA-256');
    this.onCheckpointFailure = options?.onCheckpointFailure ?? (() => undefined);
    if (signer && every > 0) {
      this.checkpointTimer = setInterval(() => void this.seal('timer'), every * 1000);
      this.checkpointTimer.unref();
    }
  }

  /** Seals at start what was written while no gateway ran (e.g. by the CLI), so it does not wait an interval. */
  async onApplicationBootstrap(): Promise<void> {
    if (this.checkpointTimer) await this.seal('start');
  }

  /** Queues a routine entry; written within ~50 ms. */
  record(r: AuditRecord): void {
    this.pending.push(this.entry(r));
    if (this.pending.length >= FLUSH_AT) void this.flush();
    else if (!this.timer) this.timer = setTimeout(() => void this.flush(), FLUSH_EVERY_MS);
  }

  /** Writes an entry before returning. */
  async recordNow(r: AuditRecord): Promise<void> {
    await this.append([this.entry(r)]);
  }

  /**
   * Writes an entry inside the caller's transaction `tx`: it is stored if and only if the caller's
   * change commits (e.g. a licence status change and its audit entry are one fact).
   */
  async recordIn(tx: EntityManager, r: AuditRecord): Promise<void> {
    // No count-triggered checkpoint from here: it would run beside an uncommitted head; the timer seals it.
    // Not the known head: it is this process's only once `tx` commits (the next batch finds out).
    await this.appendTo(tx, [this.entry(r)]);
  }

  /** Writes everything queued so far. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(() =>
      this.append(batch).then(
        () => undefined,
        (e: Error) => this.logger.error(`audit batch of ${batch.length} not written: ${e.message}`),
      ),
    );
    return this.flushing;
  }

  /**
   * Signs the current chain head into `audit_checkpoints` (after flushing). Returns the new
   * checkpoint, or null when the log is empty or its head is checkpointed already.
   */
  async checkpoint(): Promise<AuditCheckpointEntity | null> {
    const signer = this.signer;
    if (!signer) throw new Error('audit checkpoints need a signer (the KeyStore)');
    await this.flush();
    const row = await this.retrying(() =>
      runInTransaction(this.ds, async (tx) => {
        await lockChain(tx);
        const head = await readHead(tx);
        if (!head?.hash) return null;
        const last = await lastCheckpoint(tx);
        if (last !== undefined && last.seq >= head.seq) {
          this.sealedSeq = last.seq;
          return null;
        }
        const at = this.clock.now().getTime();
        // `prev` chains the checkpoints themselves: removing one breaks the next one's signature check.
        const prev = last ? checkpointLink(last.signature) : GENESIS_HASH;
        const claims: AuditCheckpointClaims = { ...(this.selfCode ? { iss: this.selfCode } : {}), seq: head.seq, hash: head.hash, at, prev };
        const signature = signer.signJws(AUDIT_CHECKPOINT_TYP, claims);
        const kid = (JSON.parse(Buffer.from(signature.split('.')[0], 'base64url').toString('utf8')) as { kid?: string }).kid ?? signer.activeKid();
        const c = { seq: head.seq, hash: head.hash, at, signature, kid };
        await insertCheckpoint(tx, c);
        return c;
      }),
    );
    if (!row) return null;
    this.sealedSeq = row.seq;
    // Exported only once committed: a line in the file always names a checkpoint the database had.
    if (this.checkpointFile) {
      await appendCheckpointLine(this.checkpointFile, row).catch((e: Error) => {
        this.onCheckpointFailure('export');
        this.logger.error(`audit checkpoint at seq ${row.seq} not exported to ${this.checkpointFile}: ${e.message}`);
      });
    }
    return Object.assign(new AuditCheckpointEntity(), { ...row, at: new Date(row.at) });
  }

  /** What is not yet sealed, from the database (for metrics). */
  async sealingStatus(): Promise<AuditSealingStatus> {
    const head = await readHead(this.ds.manager);
    const last = await lastCheckpoint(this.ds.manager);
    const sealedSeq = last?.seq ?? 0;
    const oldest: { at: number | string }[] = await this.ds.query(`SELECT at FROM audit_events WHERE seq > ${Number(sealedSeq)} ORDER BY seq LIMIT 1`);
    return {
      headSeq: head?.seq ?? 0,
      sealedSeq,
      ...(last ? { lastCheckpointAt: last.at } : {}),
      ...(oldest.length ? { oldestUnsealedAt: Number(oldest[0].at) } : {}),
    };
  }

  /** A checkpoint whose failure is logged and counted, never thrown (timers, start, entry count). */
  private async seal(why: string): Promise<void> {
    await this.checkpoint().catch((e: Error) => {
      this.onCheckpointFailure('sign');
      this.logger.warn(`audit checkpoint (${why}) not written: ${e.message}`);
    });
  }

  /** Entries in insertion order, newest last; for admins and tests. */
  async list(filter: { event?: string; limit?: number; afterSeq?: number } = {}): Promise<AuditEventEntity[]> {
    await this.flush();
    const qb = this.repo
      .createQueryBuilder('a')
      .orderBy('a.seq', 'ASC')
      // Bounded here too: a negative or non-integer limit would mean "everything" on SQLite.
      .limit(Number.isInteger(filter.limit) ? Math.min(Math.max(filter.limit!, 1), 1000) : 100);
    if (filter.event) qb.andWhere('a.event = :event', { event: filter.event });
    if (Number.isSafeInteger(filter.afterSeq) && filter.afterSeq! > 0) qb.andWhere('a.seq > :after', { after: filter.afterSeq });
    return qb.getMany();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    const sealing = this.checkpointTimer !== undefined;
    this.checkpointTimer = undefined;
    await this.flush();
    await this.idle();
    // Seal what this process wrote since the last checkpoint.
    if (sealing && this.ds.isInitialized) await this.seal('shutdown');
  }

  /**
   * One transaction per batch: chain onto the head, insert with explicit seq. Retried on a lost race.
   * On SQLite the batch joins the turn's shared write transaction (runInTurn: no ORM, one commit with
   * the turn's other grouped writes), in a savepoint of its own.
   */
  private async append(batch: PendingEntry[]): Promise<void> {
    if (this.ds.options.type !== 'postgres') return this.sealIfMany(await this.retrying(() => runInTurn(this.ds, (db) => this.appendInTurn(db, batch))));
    const known = this.knownHead;
    if (known && (await this.appendAfterKnownHead(known, batch))) return this.sealIfMany(this.knownHead?.seq ?? 0);
    let last: { seq: number; hash: string | null } | undefined;
    await this.retrying(() =>
      runInTransaction(this.ds, async (tx) => {
        last = await this.appendTo(tx, batch);
      }),
    );
    this.knownHead = last?.hash ? { seq: last.seq, hash: last.hash } : undefined;
    this.sealIfMany(last?.seq ?? 0);
  }

  /**
   * PostgreSQL: the batch chained onto the head this process wrote last, in one statement
   * (appendAfterHead) instead of a transaction of five (BEGIN, lock, head, insert, COMMIT). False
   * when another writer (a replica, an entry written in a caller's transaction, the CLI) appended
   * since: the caller then appends the usual way.
   */
  private async appendAfterKnownHead(known: { seq: number; hash: string }, batch: PendingEntry[]): Promise<boolean> {
    const chained = this.chain(known, batch);
    try {
      if (!(await appendAfterHead(this.ds, known, chained))) return false;
    } catch (e) {
      if (isUniqueViolation(e)) return false;
      throw e;
    }
    const last = chained.at(-1);
    if (last) this.knownHead = { seq: last.seq, hash: last.hash };
    return true;
  }

  private appendInTurn(db: SqliteTurn, batch: PendingEntry[]): number {
    const head = headOf(db.all(HEAD_SQL, []));
    const chained = this.chain(head, batch);
    for (const { sql, params } of entryInserts(chained, false)) db.run(sql, params);
    return chained.at(-1)?.seq ?? head?.seq ?? 0;
  }

  /** Runs `write` again when another process won the race (for the head or for a checkpoint). */
  private async retrying<T>(write: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (e) {
        // Another process won the race for the head (SQLite file shared with the CLI, or an
        // older replica that still inserts through the column's sequence): read the head again.
        if (attempt >= APPEND_ATTEMPTS || !retryable(e)) throw e;
        await delay(5 * attempt + Math.floor(Math.random() * 10));
      }
    }
  }

  /** Starts a checkpoint once `checkpointEveryEntries` entries are unsealed (one at a time). */
  private sealIfMany(headSeq: number): void {
    if (!this.everyEntries || this.sealingByCount || headSeq - (this.sealedSeq ?? 0) < this.everyEntries) return;
    this.sealingByCount = this.seal('entry count').finally(() => (this.sealingByCount = undefined));
  }

  /** Resolves once a checkpoint started by the entry count (if any) has finished. */
  async idle(): Promise<void> {
    await this.sealingByCount;
  }

  /** The batch appended in `tx` under the chain lock; returns the new head. */
  private async appendTo(tx: EntityManager, batch: PendingEntry[]): Promise<{ seq: number; hash: string | null } | undefined> {
    await lockChain(tx);
    const head = await readHead(tx);
    const chained = this.chain(head, batch);
    await insertEntries(tx, chained);
    return chained.at(-1) ?? head;
  }

  /** The batch chained onto `head`: seq, previous hash and hash of each entry. */
  private chain(head: { seq: number; hash: string | null } | undefined, batch: PendingEntry[]): ChainedEntry[] {
    let seq = head?.seq ?? 0;
    // A head without a hash was written around the log: verification names that row; chain on from it.
    let prevHash = head ? head.hash : GENESIS_HASH;
    const hashAlg = this.hashAlg;
    return batch.map((e) => {
      seq++;
      const entry: ChainedEntry = { ...e, seq, prevHash, hash: '', hashAlg };
      entry.hash = auditEntryHash(entry);
      prevHash = entry.hash;
      return entry;
    });
  }

  private entry(r: AuditRecord): PendingEntry {
    return {
      at: this.clock.now().getTime(),
      event: clean(r.event, WIDTH.event),
      actor: clean(r.actor, WIDTH.actor),
      subject: clean(r.subject, WIDTH.subject),
      outcome: clean(r.outcome, WIDTH.outcome),
      reason: r.reason == null ? null : clean(r.reason, WIDTH.reason),
      messageId: r.messageId == null ? null : clean(r.messageId, WIDTH.messageId),
      details: r.details ? JSON.stringify(r.details) : null,
    };
  }
}
