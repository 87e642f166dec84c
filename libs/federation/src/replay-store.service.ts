import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { DataSource, LessThan, Repository } from 'typeorm';
import { lastRestore } from '@tongban/audit';
import { Clock, errorMessage } from '@tongban/common';
import { PreparedStatement, isUniqueViolation } from '@tongban/persistence';
import { FEDERATION_OPTIONS, FederationOptions } from './federation.options';
import { ReplayMark } from './replay-mark';
import { SeenMessageEntity } from './seen-message.entity';

/** Delay between a remembered id and the purge that follows it (at most one purge per minute). */
const PURGE_EVERY_MS = 60_000;

/**
 * Remembers accepted message ids in the database, so a replay is refused even after a restart
 * and across replicas sharing one database. Ids are purged once their message has expired.
 */
@Injectable()
export class ReplayStore implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('ReplayStore');
  private readonly repo: Repository<SeenMessageEntity>;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private readonly insert: PreparedStatement;
  /** Envelopes issued before this (epoch seconds) are refused: the ids seen before a restore are lost with it. */
  private issuedFloor = 0;

  constructor(
    ds: DataSource,
    private readonly clock: Clock,
    @Inject(FEDERATION_OPTIONS) private readonly options: FederationOptions,
  ) {
    this.repo = ds.getRepository(SeenMessageEntity);
    // Prepared once, run without TypeORM: this runs once per request, where a query runner cost more than the insert.
    this.insert = new PreparedStatement(ds, 'INSERT INTO seen_messages (sender, message_id, expires_at) VALUES (?, ?, ?)');
  }

  /** Records `messageId` from `sender`; false when it was seen before (a replay). */
  async remember(sender: string, messageId: string, expiresAtSeconds: number): Promise<boolean> {
    try {
      // Grouped: the inserts of one event-loop turn share one commit on SQLite, each answered after it.
      await this.insert.runGrouped([sender, messageId, this.keepUntil(expiresAtSeconds)]);
      this.schedulePurge(PURGE_EVERY_MS);
      return true;
    } catch (e) {
      if (isUniqueViolation(e)) return false;
      throw e;
    }
  }

  /**
   * A mark for `messageId` from `sender` that its handler remembers in its own transaction
   * (ReplayMark); nothing is written yet.
   */
  mark(sender: string, messageId: string, expiresAtSeconds: number): ReplayMark {
    this.schedulePurge(PURGE_EVERY_MS);
    return new ReplayMark(sender, messageId, this.keepUntil(expiresAtSeconds), () => this.remember(sender, messageId, expiresAtSeconds));
  }

  /** Epoch ms until which an id is kept: acceptance is judged in whole seconds (now_s <= exp + skew), so one second longer. */
  private keepUntil(expiresAtSeconds: number): number {
    return (expiresAtSeconds + this.options.clockSkewSeconds + 1) * 1000;
  }

  /** Forgets ids whose messages can no longer be accepted anyway. */
  async purge(): Promise<number> {
    const res = await this.repo.delete({ expiresAt: LessThan(this.clock.now().getTime()) });
    return res.affected ?? 0;
  }

  /**
   * Purges what earlier processes left, then only after this process remembered something. After
   * a restore from a backup (a `backup.restored` audit entry), the ids accepted after the backup are
   * forgotten: every envelope issued before the restore is refused from now on (it lives at most
   * 300 s, so only a replay could still bring one; an honest sender retries with a new envelope).
   */
  async onModuleInit(): Promise<void> {
    this.stopped = false;
    const restored = await lastRestore(this.repo.manager);
    if (restored) this.issuedFloor = Math.ceil(restored.at / 1000);
    this.schedulePurge(0);
  }

  /** True when an envelope issued at `iatSeconds` may be new to us (not issued before a restore of our database). */
  issuedAfterRestore(iatSeconds: number): boolean {
    return iatSeconds >= this.issuedFloor;
  }

  onModuleDestroy(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * One purge `ms` from now unless one is armed already. Armed by `remember`: a gateway that
   * accepted nothing in the last minute has nothing to purge and no timer. Rows of other replicas
   * are purged by whichever replica purges next (the statement deletes every expired row).
   */
  private schedulePurge(ms: number): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.purge().catch((e: unknown) => this.logger.warn(`purge failed: ${errorMessage(e)}`));
    }, ms);
    this.timer.unref();
  }
}
