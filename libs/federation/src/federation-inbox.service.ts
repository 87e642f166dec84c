import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import { AuditLog } from '@tongban/audit';
import { Clock, errorMessage } from '@tongban/common';
import { Metrics, correlated } from '@tongban/observability';
import { TrustStore } from '@tongban/trust';
import { Envelope } from '@tongban/proto';
import { EnvelopeService } from './envelope.service';
import { OpenedEnvelope } from './envelope-claims';
import { FEDERATION_OPTIONS, FederationOptions } from './federation.options';
import { RPC_TYPES } from './message-types';
import { RefusalException } from './refusal';
import { ReplayMark } from './replay-mark';
import { DEFAULT_REFUSAL_LIMITS, RefusalAggregate, RefusalGuard } from './refusal-guard';

/**
 * Server side of every federation RPC: opens the request envelope, runs the handler, seals the
 * response to the sender (answering the request id) and records every refusal before it leaves.
 *
 * Refusals before the signature is verified cost the caller nothing but a TLS certificate, so
 * they are bounded per TLS peer: each spends a token of that peer's refusal budget, and a peer
 * whose budget is spent is refused with TOO_MANY_REFUSALS before any work (no signature check,
 * no audit row of its own). Their audit rows are aggregated: the first of each (TLS peer, RPC,
 * code) in a window is written as `federation.request.refused`, the rest as one
 * `federation.request.refused.aggregated` row with the count when the window closes.
 */
@Injectable()
export class FederationInbox implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('FederationInbox');

  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly guard: RefusalGuard;
  private readonly auditWindowMs: number;
  private timer: NodeJS.Timeout | undefined;
  private flushEveryMs = 5000;
  private stopped = false;
  /** TLS peers throttled since the last flush (the log says so once per flush interval, not per request). */
  private readonly throttled = new Set<string>();

  constructor(
    private readonly envelopes: EnvelopeService,
    private readonly audit: AuditLog,
    private readonly trust: TrustStore,
    clock: Clock,
    @Inject(FEDERATION_OPTIONS) options: FederationOptions,
    @Optional() private readonly metrics?: Metrics,
  ) {
    const limits = options.refusals ?? DEFAULT_REFUSAL_LIMITS;
    this.guard = new RefusalGuard(clock, limits);
    this.auditWindowMs = limits.auditWindowMs;
  }

  onModuleInit(): void {
    this.flushEveryMs = Math.max(250, Math.min(this.auditWindowMs / 4, 5000));
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush(true);
  }

  /**
   * Arms the flush timer while the guard holds refusal state (an open audit window, a budget being
   * refilled, a throttled peer): a gateway that refused nothing has no timer at all.
   */
  private armFlush(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush(false).finally(() => {
        if (this.guard.holdsState() || this.throttled.size > 0) this.armFlush();
      });
    }, this.flushEveryMs);
    this.timer.unref();
  }

  /** Token bucket per verified sender (burst of two seconds' worth); refuses beyond the peer's limit. */
  private takeToken(sender: string, messageId: string): void {
    const limit = this.trust.peer(sender)?.rateLimitPerSecond;
    if (!limit) return;
    const now = Date.now();
    const b = this.buckets.get(sender) ?? { tokens: 2 * limit, at: now };
    b.tokens = Math.min(2 * limit, b.tokens + ((now - b.at) / 1000) * limit);
    b.at = now;
    this.buckets.set(sender, b);
    if (b.tokens < 1) throw new RefusalException('RATE_LIMITED', `more than ${limit} requests per second from ${sender}`, sender, messageId, true);
    b.tokens -= 1;
  }

  /**
   * Handles `rpc`: `handler` gets the verified request and returns the response payload bytes.
   * `transportPeer` is the participant of the caller's TLS certificate (TransportSecurity.peerOf);
   * `correlationId` the caller's, from gRPC metadata (correlationIdOfMetadata), named in refusal lines.
   * `rememberInHandler`: the handler remembers the request id in its own transaction (`req.replay`,
   * ReplayMark) and must have stored it when it returns; after a refusal it is stored here.
   */
  async handle(
    rpc: keyof typeof RPC_TYPES,
    envelope: Envelope | undefined,
    handler: (req: OpenedEnvelope) => Promise<Uint8Array>,
    transportPeer?: string | null,
    correlationId?: string,
    rememberInHandler = false,
  ): Promise<{ envelope: Envelope }> {
    const types = RPC_TYPES[rpc];
    const source = sourceOf(transportPeer);
    if (!this.guard.admits(source)) {
      this.armFlush();
      // Before any work: no signature check, no audit row of its own (counted into the aggregate).
      this.metrics?.refusal('TOO_MANY_REFUSALS');
      const { closed } = this.guard.note(source, rpc, 'TOO_MANY_REFUSALS', false);
      if (closed) await this.writeAggregate(closed);
      if (closed || !this.throttled.has(source))
        this.logger.warn(`throttling ${source}: its refusals before signature verification exceed the budget (TONGBAN_REFUSAL_RATE_PER_S, TONGBAN_REFUSAL_BURST); counted, not audited one by one`);
      this.throttled.add(source);
      throw new RefusalException('TOO_MANY_REFUSALS', `too many refused requests from this TLS peer (${source}); slow down`);
    }
    let opened: OpenedEnvelope | undefined;
    try {
      opened = await this.envelopes.open(envelope, { type: types.request, transportPeer, rememberInHandler });
      this.takeToken(opened.claims.iss, opened.claims.jti);
      const response = await handler(opened);
      if (opened.replay && !opened.replay.stored) throw new Error(`the ${rpc} handler answered without remembering request ${opened.claims.jti}`);
      this.audit.record({ event: 'federation.request.accepted', actor: opened.claims.iss, subject: rpc, outcome: 'OK', messageId: opened.claims.jti });
      return { envelope: this.envelopes.seal(opened.claims.iss, types.response, response, opened.claims.jti).envelope };
    } catch (e) {
      const error = opened?.replay ? await this.rememberAfter(opened.replay, e) : e;
      if (error instanceof RefusalException) await this.refused(rpc, error, opened, source, correlationId);
      throw error;
    }
  }

  /**
   * After `e`, a request whose handler was to remember its id (and whose transaction rolled back)
   * has it remembered on its own, as if it had been at step 31 (docs/protocol.md §4.2: the refusals
   * after it consume the id); one seen before makes the answer REPLAYED, which step 31 would have
   * given before anything else. A database that cannot take the id leaves `e` as it was.
   */
  private async rememberAfter(mark: ReplayMark, e: unknown): Promise<unknown> {
    if (mark.stored || (e instanceof RefusalException && e.code === 'REPLAYED')) return e;
    try {
      return (await mark.rememberAlone()) ? e : mark.refusal();
    } catch (failed) {
      this.logger.warn(`could not remember request ${mark.messageId} from ${mark.sender} after its refusal: ${errorMessage(failed)}`);
      return e;
    }
  }

  private async refused(rpc: string, e: RefusalException, opened: OpenedEnvelope | undefined, source: string, correlationId: string | undefined): Promise<void> {
    // A sender is only named as such once its signature checked; before that it is a claim.
    const verified = !!opened || e.senderVerified;
    const sender = opened ? opened.claims.iss : e.sender ? (e.senderVerified ? e.sender : `claimed:${e.sender}`) : 'unknown';
    // The asker's correlation id (gRPC metadata) ties this line to its request at the asking gateway.
    const text = `refused ${rpc} from ${sender}: ${e.code}`;
    this.metrics?.refusal(e.code);
    const row = { event: 'federation.request.refused' as const, actor: sender, subject: rpc, outcome: 'REFUSED' as const, reason: e.code, messageId: e.messageId ?? opened?.claims.jti };
    if (verified) {
      this.logger.warn(correlated(text, correlationId));
      await this.audit.recordNow(row);
      return;
    }
    this.guard.charge(source);
    this.armFlush();
    const { ownRow, closed } = this.guard.note(source, rpc, e.code);
    if (closed) await this.writeAggregate(closed);
    if (!ownRow) return;
    this.logger.warn(correlated(`${text}; further ${e.code} refusals of ${rpc} from ${source} in the next ${this.auditWindowMs / 1000} s are counted into one audit row`, correlationId));
    await this.audit.recordNow(row);
  }

  /** Writes the aggregates of closed windows (all of them at shutdown). */
  private async flush(all: boolean): Promise<void> {
    this.throttled.clear();
    for (const a of this.guard.drain(all)) await this.writeAggregate(a);
  }

  private async writeAggregate(a: RefusalAggregate): Promise<void> {
    this.logger.warn(`refused ${a.rpc} from ${a.source} ${a.count} more time(s) with ${a.code} between ${a.firstAt.toISOString()} and ${a.lastAt.toISOString()}`);
    await this.audit
      .recordNow({
        event: 'federation.request.refused.aggregated',
        actor: a.source,
        subject: a.rpc,
        outcome: 'REFUSED',
        reason: a.code,
        details: { count: a.count, firstAt: a.firstAt.toISOString(), lastAt: a.lastAt.toISOString() },
      })
      .catch((err: Error) => this.logger.error(`could not audit ${a.count} aggregated ${a.code} refusal(s) from ${a.source}: ${err.message}`));
  }
}

/** The TLS identity a refusal budget belongs to: the certificate's participant, a certificate naming none, or no TLS (development flag). */
function sourceOf(transportPeer: string | null | undefined): string {
  return transportPeer === undefined ? 'insecure' : transportPeer === null ? 'tls:unnamed' : `tls:${transportPeer}`;
}
