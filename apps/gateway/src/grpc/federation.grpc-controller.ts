import { Controller, Logger, UseFilters } from '@nestjs/common';
import { GrpcMethod, GrpcStreamCall } from '@nestjs/microservices';
import { Metadata, sendUnaryData, ServerReadableStream, ServerUnaryCall } from '@grpc/grpc-js';
import { FederationInbox, RefusalException, refuseUnstorableText } from '@tongban/federation';
import { KeyStore } from '@tongban/keys';
import { TransportSecurity } from '@tongban/tls';
import { Inbox, ResyncResponder } from '@tongban/delivery';
import { MaterialReceiver } from '@tongban/materials';
import {
  DeliveryPayload,
  DeliveryReceiptPayload,
  Envelope,
  GetJwksPayload,
  GetStatusListPayload,
  StatusListPayload,
  JwksPayload,
  PushMaterialRequest,
  PushMaterialResponse,
  ResyncPayload,
  ResyncStatePayload,
  VerifyLicencesPayload,
  VerifyLicencesResultPayload,
} from '@tongban/proto';
import { IssuerService, MalformedQueryError, StatusListServer } from '@tongban/verification';
import { correlationIdOfMetadata } from '@tongban/observability';
import { grpcErrorOf, RpcErrorFilter } from './rpc-error.filter';
import { readStream } from './stream-reader';

/** gRPC face for peers: `tongban.federation.v1.FederationService`. */
@Controller()
@UseFilters(RpcErrorFilter)
export class FederationGrpcController {
  private readonly logger = new Logger('RpcError');

  constructor(
    private readonly inbox: FederationInbox,
    private readonly issuer: IssuerService,
    private readonly keys: KeyStore,
    private readonly deliveries: Inbox,
    private readonly materials: MaterialReceiver,
    private readonly transport: TransportSecurity,
    private readonly resyncs: ResyncResponder,
    private readonly statusLists: StatusListServer,
  ) {}

  // Pass-through streaming: the raw call is read with back-pressure (Nest's RX variant buffers the
  // whole stream until a returned promise settles), so the answer goes through the callback.
  @GrpcStreamCall('FederationService', 'PushMaterial')
  pushMaterial(call: ServerReadableStream<PushMaterialRequest, PushMaterialResponse>, callback: sendUnaryData<PushMaterialResponse>): void {
    this.materials.receive(readStream<PushMaterialRequest>(call), this.transport.peerOf(call), correlationIdOfMetadata(call.metadata)).then(
      (res) => callback(null, res),
      (e) => callback(grpcErrorOf(e, this.logger)),
    );
  }

  @GrpcMethod('FederationService', 'Deliver')
  deliver(req: { envelope?: Envelope }, metadata: Metadata, call: Call) {
    const correlationId = correlationIdOfMetadata(metadata);
    return this.inbox.handle(
      'Deliver',
      req.envelope,
      async ({ claims, payload, replay }) => {
        const message = decode(() => DeliveryPayload.decode(payload));
        // The envelope's id goes into the replay store with the inbox transaction (ReplayMark).
        const receipt = await this.deliveries.receive(claims.iss, message, correlationId, replay);
        return DeliveryReceiptPayload.encode({ receipt }).finish();
      },
      this.transport.peerOf(call),
      correlationId,
      true,
    );
  }

  @GrpcMethod('FederationService', 'Resync')
  resync(req: { envelope?: Envelope }, metadata: Metadata, call: Call) {
    return this.inbox.handle(
      'Resync',
      req.envelope,
      async ({ claims, payload }) =>
        ResyncStatePayload.encode(
          await this.resyncs.answer(
            claims.iss,
            decode(() => ResyncPayload.decode(payload)),
          ),
        ).finish(),
      this.transport.peerOf(call),
      correlationIdOfMetadata(metadata),
    );
  }

  @GrpcMethod('FederationService', 'VerifyLicences')
  verifyLicences(req: { envelope?: Envelope }, metadata: Metadata, call: Call) {
    return this.inbox.handle(
      'VerifyLicences',
      req.envelope,
      async ({ claims, payload }) => {
        const queries = decode(() => VerifyLicencesPayload.decode(payload).queries);
        try {
          this.issuer.validate(queries);
        } catch (e) {
          if (e instanceof MalformedQueryError) throw new RefusalException('MALFORMED_PAYLOAD', e.message, claims.iss, claims.jti);
          throw e;
        }
        const refused = this.issuer.refusedTypes(claims.iss, queries);
        if (refused.size > 0 && queries.every((q) => refused.has(q.licenceType))) {
          throw new RefusalException('LICENCE_TYPE_NOT_ALLOWED', `${claims.iss} may not verify licence type ${[...refused].join(', ')}`, claims.iss, claims.jti);
        }
        const results = await this.issuer.answer(claims.iss, queries, refused);
        return VerifyLicencesResultPayload.encode({ results }).finish();
      },
      this.transport.peerOf(call),
      correlationIdOfMetadata(metadata),
    );
  }

  @GrpcMethod('FederationService', 'GetJwks')
  getJwks(req: { envelope?: Envelope }, metadata: Metadata, call: Call) {
    return this.inbox.handle(
      'GetJwks',
      req.envelope,
      async ({ payload }) => {
        decode(() => GetJwksPayload.decode(payload));
        return JwksPayload.encode({ jwksJson: JSON.stringify(this.keys.jwks()) }).finish();
      },
      this.transport.peerOf(call),
      correlationIdOfMetadata(metadata),
    );
  }

  @GrpcMethod('FederationService', 'GetStatusList')
  getStatusList(req: { envelope?: Envelope }, metadata: Metadata, call: Call) {
    return this.inbox.handle(
      'GetStatusList',
      req.envelope,
      async ({ claims, payload }) => {
        const { listId } = decode(() => GetStatusListPayload.decode(payload));
        return StatusListPayload.encode(await this.statusLists.answer(claims.iss, claims.jti, listId)).finish();
      },
      this.transport.peerOf(call),
      correlationIdOfMetadata(metadata),
    );
  }
}

type Call = ServerUnaryCall<unknown, unknown>;

/** Decodes a request payload; bytes that do not decode, or text no backend can store, are MALFORMED_PAYLOAD. */
function decode<T>(fn: () => T): T {
  let decoded: T;
  try {
    decoded = fn();
  } catch {
    throw new RefusalException('MALFORMED_PAYLOAD', 'payload is not a valid protobuf message of the signed type');
  }
  refuseUnstorableText(decoded);
  return decoded;
}
