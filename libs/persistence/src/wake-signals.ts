import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { Client, Notification } from 'pg';
import { recordDatabaseFault } from './database-faults';
import type { DatabaseTarget } from './data-source.factory';
import { countStatement } from './statement-count';

/** Publications within this window go out as one NOTIFY. */
const COALESCE_MS = 20;
const RECONNECT_FIRST_MS = 1000;
const RECONNECT_MAX_MS = 30_000;

/**
 * Wakes the other replicas sharing a PostgreSQL database: `publish(topic)` sends a NOTIFY on one
 * channel per schema (so provinces sharing a database do not wake each other), and a dedicated
 * LISTEN connection in every replica calls that topic's handler. Best effort by design: a lost
 * notification costs at most the workers' safety poll, never work, since the work itself is in
 * the tables. Each time LISTEN takes effect, the first time and after a reconnect, every handler
 * runs once (notifications may have been sent before it took effect). On
 * SQLite (one process per file) it does nothing and opens nothing.
 */
export class WakeSignals {
  private readonly logger = new Logger('WakeSignals');
  private readonly handlers = new Map<string, () => void>();
  private readonly pending = new Set<string>();
  /** Tells this replica's own notifications apart from the others'. */
  private readonly self = randomUUID();
  private client: Client | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectMs = RECONNECT_FIRST_MS;
  private listenedBefore = false;
  private stopped = true;
  private readonly given = new WeakSet<Client>();
  /** The NOTIFY channel (one per PostgreSQL schema). */
  readonly channel: string;

  constructor(private readonly target: DatabaseTarget) {
    this.channel = `tongban_wake_${target.kind === 'postgres' ? (target.schema ?? 'public') : 'sqlite'}`.slice(0, 63);
  }

  /** Whether notifications cross processes here (PostgreSQL only). */
  get enabled(): boolean {
    return this.target.kind === 'postgres';
  }

  /** Calls `handler` when another replica published `topic`, and each time LISTEN takes effect (first and after a reconnect). */
  on(topic: string, handler: () => void): void {
    this.handlers.set(topic, handler);
  }

  /** Tells the other replicas `topic` has work (call after the commit); coalesced into one NOTIFY per 20 ms. */
  publish(topic: string): void {
    if (!this.enabled || this.stopped) return;
    this.pending.add(topic);
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => void this.flush(), COALESCE_MS);
    this.flushTimer.unref();
  }

  /** Opens the LISTEN connection (PostgreSQL); a failure is retried in the background, never fatal. */
  async start(): Promise<void> {
    if (!this.enabled || !this.stopped) return;
    this.stopped = false;
    await this.connect();
  }

  /** Sends what is still pending and closes the connection. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    await this.flush();
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  private async flush(): Promise<void> {
    this.flushTimer = undefined;
    const topics = [...this.pending];
    this.pending.clear();
    const c = this.client;
    if (!c || topics.length === 0) return;
    countStatement();
    await c.query('SELECT pg_notify($1, $2)', [this.channel, `${this.self} ${topics.join(',')}`]).catch((e: unknown) => recordDatabaseFault('connection_lost', e));
  }

  private async connect(): Promise<void> {
    if (this.target.kind !== 'postgres' || this.stopped) return;
    const t = this.target;
    const client = new Client({ connectionString: t.url, application_name: `${t.applicationName ?? 'tongban'}-wake`.slice(0, 63) });
    client.on('error', (e) => {
      recordDatabaseFault('connection_lost', e);
      this.lost(client);
    });
    client.on('end', () => this.lost(client));
    client.on('notification', (n) => this.heard(n));
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    } catch (e) {
      recordDatabaseFault('connection_lost', e);
      this.lost(client);
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.reconnectMs = RECONNECT_FIRST_MS;
    if (this.listenedBefore) this.logger.log(`listening again on ${this.channel}`);
    this.listenedBefore = true;
    // What was announced before this LISTEN took effect was not heard: after the owner loaded its
    // state and before the first LISTEN (a revocation committed by another replica while this one
    // started), or while the connection was lost. Every handler runs once now.
    for (const h of this.handlers.values()) h();
  }

  private lost(client: Client): void {
    // 'error' and 'end' may both come, late: each connection is given up (and replaced) once.
    if (this.given.has(client)) return;
    this.given.add(client);
    if (this.client === client) this.client = undefined;
    client.removeAllListeners('notification');
    void client.end().catch(() => undefined);
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, this.reconnectMs);
    this.reconnectTimer.unref();
    this.reconnectMs = Math.min(this.reconnectMs * 2, RECONNECT_MAX_MS);
  }

  private heard(n: Notification): void {
    if (n.channel !== this.channel || !n.payload) return;
    const [sender, topics = ''] = n.payload.split(' ');
    if (sender === this.self) return;
    for (const topic of topics.split(',')) this.handlers.get(topic)?.();
  }
}
