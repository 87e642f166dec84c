import { Controller, UseFilters } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { FederationInbox, RefusalException } from '@tongban/federation';
import { KeyStore } from '@tongban/keys';
import { Inbox } from '@tongban/delivery';
import { DeliveryPayload, DeliveryReceiptPayload, Envelope, GetJwksPayload, JwksPayload, VerifyLicencesPayload, VerifyLicencesResultPayload } from '@tongban/proto';
import { IssuerService, MalformedQueryError } from '@tongban/verification';
import { RpcErrorFilter } from './rpc-error.filter';

/** gRPC face for peers: `tongban.federation.v1.FederationService`. */
@Controller()
@UseFilters(RpcErrorFilter)
export class FederationGrpcController {
  constructor(
    private readonly inbox: FederationInbox,
    private readonly issuer: IssuerService,
    private readonly keys: KeyStore,
    private readonly deliveries: Inbox,
  ) {}

  @GrpcMethod('FederationService', 'Deliver')
  deliver(req: { envelope?: Envelope }) {
    return this.inbox.handle('Deliver', req.envelope, async ({ claims, payload }) => {
      const message = decode(() => DeliveryPayload.decode(payload));
      const receipt = await this.deliveries.receive(claims.iss, message);
      return DeliveryReceiptPayload.encode({ receipt }).finish();
    });
  }

  @GrpcMethod('FederationService', 'VerifyLicences')
  verifyLicences(req: { envelope?: Envelope }) {
    return this.inbox.handle('VerifyLicences', req.envelope, async ({ claims, payload }) => {
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
    });
  }

  @GrpcMethod('FederationService', 'GetJwks')
  getJwks(req: { envelope?: Envelope }) {
    return this.inbox.handle('GetJwks', req.envelope, async ({ payload }) => {
      decode(() => GetJwksPayload.decode(payload));
      return JwksPayload.encode({ jwksJson: JSON.stringify(this.keys.jwks()) }).finish();
    });
  }
}

function decode<T>(fn: () => T): T {
  try {
    return fn();
  } catch {
    throw new RefusalException('MALFORMED_PAYLOAD', 'payload is not a valid protobuf message of the signed type');
  }
}
