import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { once } from 'node:events';
import { ChannelCredentials, ClientWritableStream, connectivityState, Metadata, ServiceError, status } from '@grpc/grpc-js';
import { DomainException } from '@tongban/common';
import { Metrics } from '@tongban/observability';
import { Envelope, FederationServiceClient, PushMaterialRequest, PushMaterialResponse } from '@tongban/proto';
import { TransportSecurity } from '@tongban/tls';
import { TrustStore } from '@tongban/trust';
import { withoutCallerStack } from './caller-stack';
import { EnvelopeService } from './envelope.service';
import { FEDERATION_OPTIONS, FederationOptions } from './federation.options';
import { RPC_TYPES } from './message-types';
import { REFUSAL_METADATA_KEY, RefusalException } from './refusal';

type UnaryMethod = 'verifyLicences' | 'getJwks' | 'deliver' | 'resync';
/** A cached channel to a peer, with the calls it carries now; `retired`: replaced, to be closed when idle. */
interface Channel {
  endpoint: string;
  credentials: ChannelCredentials;
  client: FederationServiceClient;
  inFlight: number;
  retired: boolean;
}

/**
 * Calls other gateways: seals the request, sends it with a deadline over a cached channel,
 * and opens (verifies) the signed response. Failures become DomainExceptions a caller can map.
 */
@Injectable()
export class PeerClient implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('PeerClient');
  private readonly clients = new Map<string, Channel>();
  /** Preconnect: the channel each peer was last tried with (one attempt per endpoint and TLS material). */
  private readonly preconnected = new Map<string, { endpoint: string; credentials: ChannelCredentials }>();
  private stopTrustListener?: () => void;

  constructor(
    private readonly envelopes: EnvelopeService,
    private readonly trust: TrustStore,
    private readonly transport: TransportSecurity,
    @Inject(FEDERATION_OPTIONS) private readonly options: FederationOptions,
    @Optional() private readonly metrics?: Metrics,
  ) {}

  /** Sends a signed `rpc` to `peerCode` and returns the verified response payload bytes. */
  async call(peerCode: string, rpc: keyof typeof RPC_TYPES, payload: Uint8Array, correlationId?: string, signKid?: string): Promise<Buffer> {
    const send = () => this.send(peerCode, rpc, payload, correlationId, signKid);
    return this.metrics ? this.metrics.timePeerCall(rpc, peerCode, send) : send();
  }

  private async send(peerCode: string, rpc: keyof typeof RPC_TYPES, payload: Uint8Array, correlationId?: string, signKid?: string): Promise<Buffer> {
    const peer = this.activePeer(peerCode);
    const types = RPC_TYPES[rpc];
    const { envelope, messageId } = this.envelopes.seal(peerCode, types.request, payload, undefined, signKid);
    const channel = this.channel(peerCode, peer.endpoint);
    const method = (rpc.charAt(0).toLowerCase() + rpc.slice(1)) as UnaryMethod;
    const metadata = new Metadata();
    if (correlationId) metadata.set('x-correlation-id', correlationId);
    const response = await this.carried(
      channel,
      new Promise<{ envelope?: Envelope }>((resolve, reject) => {
        withoutCallerStack(() =>
          channel.client[method]({ envelope }, metadata, { deadline: Date.now() + this.options.peerDeadlineMs }, (err: ServiceError | null, res?: { envelope?: Envelope }) =>
            err ? reject(err) : resolve(res ?? {}),
          ),
        );
      }),
    ).catch((err: ServiceError) => {
      throw this.mapError(peerCode, err);
    });
    return (await this.openResponse(peerCode, rpc, response.envelope, messageId)).payload;
  }

  /**
   * Client-streaming PushMaterial: sends the signed `header` (a MaterialHeader) in the first
   * message, then `chunks` (≤ 64 KiB each) with flow control, under a deadline that grows with
   * `size` (peer deadline + 1 s per MiB); returns the verified response payload and its envelope.
   */
  async pushMaterial(peerCode: string, header: Uint8Array, chunks: Iterable<Uint8Array>, size: number): Promise<{ payload: Buffer; envelope: Envelope }> {
    const peer = this.activePeer(peerCode);
    const types = RPC_TYPES.PushMaterial;
    const { envelope, messageId } = this.envelopes.seal(peerCode, types.request, header);
    const channel = this.channel(peerCode, peer.endpoint);
    const deadline = Date.now() + this.options.peerDeadlineMs + Math.ceil((size / 1048576) * 1000);
    let stream!: ClientWritableStream<PushMaterialRequest>;
    const done = new Promise<PushMaterialResponse>((resolve, reject) => {
      stream = withoutCallerStack(() => channel.client.pushMaterial(new Metadata(), { deadline }, (err: ServiceError | null, res: PushMaterialResponse) => (err ? reject(err) : resolve(res))));
    });
    const carried = this.carried(channel, done); // from now: the channel is not closed under the stream
    carried.catch(() => undefined); // awaited (and mapped) below, after the writes
    // The peer may answer (a refusal) before the last chunk: stop writing then.
    let finished = false;
    const settled = done.then(
      () => void (finished = true),
      () => void (finished = true),
    );
    const write = async (m: PushMaterialRequest) => {
      if (!finished && !stream.write(m)) await Promise.race([once(stream, 'drain'), settled]);
    };
    await write({ envelope, chunk: Buffer.alloc(0) });
    for (const chunk of chunks) {
      if (finished) break;
      await write({ envelope: undefined, chunk: Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) });
    }
    if (!finished) stream.end();
    const response = await carried.catch((err: ServiceError) => {
      throw this.mapError(peerCode, err);
    });
    const opened = await this.openResponse(peerCode, 'PushMaterial', response.envelope, messageId);
    return { payload: opened.payload, envelope: response.envelope! };
  }

  private activePeer(peerCode: string) {
    const peer = this.trust.peer(peerCode);
    if (!peer) throw new DomainException('ISSUER_UNKNOWN', `no gateway is configured for participant ${peerCode}`, { peer: peerCode });
    if (peer.status !== 'ACTIVE') throw new DomainException('FORBIDDEN', `peer ${peerCode} is suspended in our trust store`, { peer: peerCode, reason: 'PEER_SUSPENDED' });
    return peer;
  }

  private async openResponse(peerCode: string, rpc: string, envelope: Envelope | undefined, messageId: string) {
    try {
      return await this.envelopes.open(envelope, { type: RPC_TYPES[rpc].response, replyTo: { messageId, from: peerCode } });
    } catch (e) {
      if (e instanceof RefusalException) {
        this.logger.warn(`response from ${peerCode} to ${rpc} refused: ${e.message}`);
        throw new DomainException('ISSUER_RESPONSE_INVALID', `the response of ${peerCode} failed verification (${e.code})`, { peer: peerCode, reason: e.code });
      }
      throw e;
    }
  }

  onApplicationBootstrap(): void {
    if (!this.options.preconnect) return;
    this.stopTrustListener = this.trust.onRefresh(() => void this.preconnect());
    void this.preconnect();
  }

  onModuleDestroy(): void {
    this.stopTrustListener?.();
    for (const { client } of this.clients.values()) client.close();
    this.clients.clear();
  }

  /**
   * Opens the connection to every active peer not yet tried with its current endpoint and TLS
   * material, so that a peer's first call does not pay the TCP and mutual-TLS handshakes and the
   * HTTP/2 set-up (docs/operations.md, TONGBAN_PEER_PRECONNECT). One attempt each: a channel that
   * fails to connect (refused, TLS handshake) or is not ready within the peer deadline is dropped,
   * unless a call is using it, so the peer's first call starts a fresh connection as it would
   * without this — a channel kept in grpc-js's transient-failure back-off fails calls at once
   * until its next retry. Resolves, for the attempts it started, with whether each peer became ready.
   */
  preconnect(): Promise<{ peer: string; ready: boolean }[]> {
    const attempts: Promise<{ peer: string; ready: boolean }>[] = [];
    for (const peer of this.trust.allPeers()) {
      if (peer.status !== 'ACTIVE' || !peer.endpoint) continue;
      const credentials = this.transport.channelCredentials(peer.code);
      const tried = this.preconnected.get(peer.code);
      if (tried && tried.endpoint === peer.endpoint && tried.credentials === credentials) continue;
      this.preconnected.set(peer.code, { endpoint: peer.endpoint, credentials });
      attempts.push(
        this.connectOnce(peer.code, this.channel(peer.code, peer.endpoint)).then((outcome) => {
          this.metrics?.countPreconnect(outcome.peer, outcome.ready);
          return outcome;
        }),
      );
    }
    return Promise.all(attempts);
  }

  /** Starts `channel` connecting and follows its state until READY, a failure or the peer deadline. */
  private connectOnce(peer: string, channel: Channel): Promise<{ peer: string; ready: boolean }> {
    const grpcChannel = channel.client.getChannel();
    const deadline = Date.now() + this.options.peerDeadlineMs;
    return new Promise((resolve) => {
      const follow = (state: connectivityState) => {
        if (state === connectivityState.READY) return resolve({ peer, ready: true });
        if (state === connectivityState.TRANSIENT_FAILURE || state === connectivityState.SHUTDOWN) return give(state);
        grpcChannel.watchConnectivityState(state, deadline, (err) => (err ? give(undefined) : follow(grpcChannel.getConnectivityState(false))));
      };
      const give = (state: connectivityState | undefined) => {
        if (this.clients.get(peer) === channel && channel.inFlight === 0) {
          this.logger.debug(`preconnect to ${peer} at ${channel.endpoint}: ${state === undefined ? 'not ready within the peer deadline' : connectivityState[state]}; its first call will connect`);
          this.clients.delete(peer);
          channel.client.close();
        }
        resolve({ peer, ready: false });
      };
      follow(grpcChannel.getConnectivityState(true));
    });
  }

  /**
   * The cached channel to `code`, or a new one when the endpoint or our TLS credentials changed
   * (a reload of the TLS material). A replaced channel is closed once the calls it carries have
   * ended: closing it at once would fail those still waiting for a connection (UNAVAILABLE).
   */
  private channel(code: string, endpoint: string): Channel {
    // Mutual TLS: our certificate, and a check that the server's names participant `code`. The
    // credentials (one shared TLS context) change only when our TLS material is reloaded: then
    // the channel is replaced, so new connections present the new certificate and trust the new CAs.
    const credentials = this.transport.channelCredentials(code);
    const cached = this.clients.get(code);
    if (cached && cached.endpoint === endpoint && cached.credentials === credentials) return cached;
    if (cached) {
      cached.retired = true;
      if (cached.inFlight === 0) cached.client.close();
    }
    const client = new FederationServiceClient(endpoint, credentials, {
      'grpc.max_receive_message_length': this.options.maxPayloadBytes + 64 * 1024,
      'grpc.keepalive_time_ms': 30_000,
      // TLS server name (SNI) = the participant, not the endpoint's IP address (RFC 6066 forbids
      // IP addresses there); the server certificate is checked by participant, not by host name.
      ...(this.transport.secure ? { 'grpc.ssl_target_name_override': `gateway-${code}.tongban.invalid` } : {}),
    });
    const channel: Channel = { endpoint, credentials, client, inFlight: 0, retired: false };
    this.clients.set(code, channel);
    return channel;
  }

  /** Counts `call` as carried by `channel` until it settles; closes a retired channel when its last call ends. */
  private async carried<T>(channel: Channel, call: Promise<T>): Promise<T> {
    channel.inFlight++;
    try {
      return await call;
    } finally {
      if (--channel.inFlight === 0 && channel.retired) channel.client.close();
    }
  }

  private mapError(peer: string, err: ServiceError): DomainException {
    const reason = String(err.metadata?.get(REFUSAL_METADATA_KEY)?.[0] ?? '') || undefined;
    switch (err.code) {
      case status.UNAVAILABLE:
        if (/certificate|TLS|SSL|secure/i.test(err.details ?? '')) {
          this.logger.warn(`call to ${peer} failed in the TLS handshake: ${err.details}`);
          return new DomainException('ISSUER_UNREACHABLE', `the gateway of ${peer} could not be reached over mutual TLS (certificate or CA problem; see the log)`, { peer, reason: 'TLS_HANDSHAKE' });
        }
        return new DomainException('ISSUER_UNREACHABLE', `the gateway of ${peer} did not answer in time`, { peer });
      case status.DEADLINE_EXCEEDED:
      case status.CANCELLED:
        return new DomainException('ISSUER_UNREACHABLE', `the gateway of ${peer} did not answer in time`, { peer });
      case status.RESOURCE_EXHAUSTED:
        if (reason === 'RATE_LIMITED') return new DomainException('ISSUER_RATE_LIMITED', `the gateway of ${peer} is rate-limiting our requests; retry later`, { peer, reason });
        return new DomainException('ISSUER_REJECTED', `the gateway of ${peer} rejected the request (${reason ?? 'RESOURCE_EXHAUSTED'})`, { peer, reason: reason ?? 'RESOURCE_EXHAUSTED' });
      case status.PERMISSION_DENIED:
        return new DomainException('ISSUER_REFUSED', `the gateway of ${peer} refused the request${reason ? ` (${reason})` : ''}`, { peer, reason });
      default:
        this.logger.warn(`call to ${peer} failed: ${status[err.code]} ${err.details}`);
        return new DomainException('ISSUER_REJECTED', `the gateway of ${peer} rejected the request${reason ? ` (${reason})` : ` (${status[err.code]})`}`, { peer, reason: reason ?? status[err.code] });
    }
  }
}
