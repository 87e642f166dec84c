import { Injectable, Logger, Optional } from '@nestjs/common';
import { AuditLog } from '@tongban/audit';
import { Metrics, currentCorrelationId } from '@tongban/observability';
import { TrustStore } from '@tongban/trust';
import { Envelope } from '@tongban/proto';
import { EnvelopeService } from './envelope.service';
import { OpenedEnvelope } from './envelope-claims';
import { RPC_TYPES } from './message-types';
import { RefusalException } from './refusal';

/**
 * Server side of every federation RPC: opens the request envelope, runs the handler, seals the
 * response to the sender (answering the request id) and records every refusal before it leaves.
 */
@Injectable()
export class FederationInbox {
  private readonly logger = new Logger('FederationInbox');

  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly envelopes: EnvelopeService,
    private readonly audit: AuditLog,
    private readonly trust: TrustStore,
    @Optional() private readonly metrics?: Metrics,
  ) {}

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
   * `transportPeer` is the participant of the caller's TLS certificate (TransportSecurity.peerOf).
   */
  async handle(rpc: keyof typeof RPC_TYPES, envelope: Envelope | undefined, handler: (req: OpenedEnvelope) => Promise<Uint8Array>, transportPeer?: string | null): Promise<{ envelope: Envelope }> {
    const types = RPC_TYPES[rpc];
    let opened: OpenedEnvelope | undefined;
    try {
      opened = await this.envelopes.open(envelope, { type: types.request, transportPeer });
      this.takeToken(opened.claims.iss, opened.claims.jti);
      const response = await handler(opened);
      this.audit.record({ event: 'federation.request.accepted', actor: opened.claims.iss, subject: rpc, outcome: 'OK', messageId: opened.claims.jti });
      return { envelope: this.envelopes.seal(opened.claims.iss, types.response, response, opened.claims.jti).envelope };
    } catch (e) {
      if (e instanceof RefusalException) {
        // A sender is only named as such once its signature checked; before that it is a claim.
        const sender = opened ? opened.claims.iss : e.sender ? (e.senderVerified ? e.sender : `claimed:${e.sender}`) : 'unknown';
        // The asker's correlation id (gRPC metadata) ties this line to its request at the asking gateway.
        const correlationId = currentCorrelationId();
        this.logger.warn(`refused ${rpc} from ${sender}: ${e.code}${correlationId ? ` (correlation id ${correlationId})` : ''}`);
        this.metrics?.refusal(e.code);
        await this.audit.recordNow({
          event: 'federation.request.refused',
          actor: sender,
          subject: rpc,
          outcome: 'REFUSED',
          reason: e.code,
          messageId: e.messageId ?? opened?.claims.jti,
        });
      }
      throw e;
    }
  }
}
