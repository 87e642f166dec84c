import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { parseOrThrow } from '@tongban/common';
import { ApiErrors, openApiSchemaOf } from '@tongban/observability';
import { AttestationService, VerificationService, batchRequestSchema, verificationRequestSchema } from '@tongban/verification';
import { Access } from '@tongban/access';
import { COUNTS_NO_WRITES } from '@tongban/persistence';
import { Ctx, RequestContext } from './request-context';

const attestationBody = z.object({ attestation: z.string().min(1).max(8192) }).strict();

// OpenAPI examples: demo licences of 北京 (deploy/demo/licences-110000.json), so they succeed against
// any gateway of the local federation (`npm start`) or one that imported those licences.
const BUSINESS_LICENCE = {
  licenceType: '11100000000013338W009',
  licenceId: '1.2.156.3005.2.11100000000013338W009.11110105093213442W.2017826165.001.Q',
  holder: { name: '北京星河演示科技有限公司', creditCode: '91110105056097745Y' },
  purpose: '异地办理业务核验',
};
const BY_NUMBER = {
  licenceType: '11100000000013338W009',
  licenceNumber: '京营字2017826165',
  issuerProvince: '110000',
  holder: { name: '北京星河演示科技有限公司' },
  purpose: '异地办理业务核验',
};
const RESULT_EXAMPLE = {
  requestId: '7d0c5a3e-2f7b-4a8e-9b1d-3c1f0e6a9b52',
  status: 'VALID',
  holderMatch: { name: 'MATCH', code: 'MATCH' },
  licence: {
    licenceType: '11100000000013338W009',
    licenceName: '营业执照',
    licenceNumber: '京营字2017826165',
    licenceId: BUSINESS_LICENCE.licenceId,
    holderName: '北京星河演示科技有限公司',
    issueDate: '2017-04-28',
    validFrom: '2017-04-28',
    jurisdictionCode: '110105',
  },
  issuer: { province: '110000', organName: '北京市朝阳区市场监督管理局', organCode: '11110105093213442W' },
  checkedAt: '2026-11-25T09:30:00.000Z',
  attestation: 'eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiIsInR5cCI6InRvbmdiYW4tYXR0ZXN0YXRpb24rand0In0.eyJpc3MiOiIxMTAwMDAiLCIuLi4iOiIuLi4ifQ.c2lnbmF0dXJl',
};
const MATCH = { type: 'string', enum: ['MATCH', 'MISMATCH', 'NOT_CHECKED'] };
const RESULT_SCHEMA = {
  type: 'object',
  properties: {
    requestId: { type: 'string', description: 'Query id, bound into the attestation as rid' },
    status: { type: 'string', enum: ['VALID', 'NOT_YET_VALID', 'EXPIRED', 'SUSPENDED', 'REVOKED', 'NOT_FOUND'] },
    holderMatch: { type: 'object', properties: { name: MATCH, code: MATCH } },
    licence: { type: 'object', additionalProperties: { type: 'string' }, description: 'Only the fields the issuer discloses for this licence type' },
    issuer: { type: 'object', properties: { province: { type: 'string' }, organName: { type: 'string', nullable: true }, organCode: { type: 'string', nullable: true } } },
    checkedAt: { type: 'string', format: 'date-time' },
    attestation: { type: 'string', description: "The issuer's signed JWS; re-check it any time with POST /v1/attestations/verify" },
  },
};

/** Local API for provincial systems: verify licences, check attestations. */
@ApiTags('verification')
@ApiBearerAuth('api')
@Controller('v1')
export class VerificationController {
  constructor(
    private readonly verification: VerificationService,
    private readonly attestations: AttestationService,
  ) {}

  @Access.scope('verify')
  @Post('verifications')
  @RouteConfig(COUNTS_NO_WRITES)
  @HttpCode(200)
  @ApiOperation({ summary: "Verify one licence with its issuing province's gateway; returns the issuer's signed answer" })
  @ApiBody({
    schema: openApiSchemaOf(verificationRequestSchema, 'licenceId or licenceNumber is required; with licenceNumber only, issuerProvince too. Give holder.idNumber or holder.creditCode, not both.'),
    examples: {
      businessLicence: { summary: 'By licence identifier (the issuer is read from it)', value: BUSINESS_LICENCE },
      byNumber: { summary: 'By licence number and issuing province', value: BY_NUMBER },
    },
  })
  @ApiResponse({ status: 200, description: 'Answered and signed by the issuer (any status, including NOT_FOUND)', schema: RESULT_SCHEMA, example: RESULT_EXAMPLE })
  @ApiErrors(400, 401, 403, 502, 503)
  verify(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.verification.verify(body, ctx.caller, ctx.correlationId);
  }

  @Access.scope('verify')
  @Post('verifications/batch')
  @RouteConfig(COUNTS_NO_WRITES)
  @HttpCode(200)
  @ApiOperation({ summary: 'Verify up to 100 licences: one signed call per issuing province, concurrently; results in request order' })
  @ApiBody({
    schema: { ...openApiSchemaOf(batchRequestSchema), properties: { items: { type: 'array', minItems: 1, maxItems: 100, items: openApiSchemaOf(verificationRequestSchema) } } },
    examples: { twoLicences: { summary: 'Two licences of 北京', value: { items: [BUSINESS_LICENCE, BY_NUMBER] } } },
  })
  @ApiResponse({
    status: 200,
    description: 'One entry per item: a result as for POST /v1/verifications, or {requestId, error: {code, message, field?, rule?}}',
    schema: {
      type: 'object',
      properties: { results: { type: 'array', items: { oneOf: [RESULT_SCHEMA, { type: 'object', properties: { requestId: { type: 'string' }, error: { type: 'object' } } }] } } },
    },
    example: { results: [RESULT_EXAMPLE, { requestId: 'c1e7…', error: { code: 'ISSUER_UNREACHABLE', message: 'the gateway of 130000 did not answer in time' } }] },
  })
  @ApiErrors(400, 401)
  verifyBatch(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.verification.verifyBatch(body, ctx.caller, ctx.correlationId);
  }

  @Access.scope('verify')
  @Post('attestations/verify')
  @HttpCode(200)
  @ApiOperation({ summary: 'Check an attestation offline against the trust store (any time later, even with the issuer down)' })
  @ApiBody({ schema: openApiSchemaOf(attestationBody), examples: { attestation: { summary: 'An attestation from a verification result', value: { attestation: RESULT_EXAMPLE.attestation } } } })
  @ApiResponse({
    status: 200,
    description: '`valid` false with a `reason` when it does not check (not an HTTP error)',
    schema: {
      type: 'object',
      properties: {
        valid: { type: 'boolean' },
        claims: { type: 'object' },
        kid: { type: 'string' },
        reason: { type: 'string' },
        currentStatus: { type: 'object', description: "With a statusRef: the licence's status now, from the issuer's signed status list, with the list's age (docs/protocol-status.md §4)" },
      },
    },
    example: {
      valid: true,
      kid: 'Qm9vb…',
      claims: { iss: '110000', aud: '440000', status: 'VALID', rid: RESULT_EXAMPLE.requestId, licenceType: '11100000000013338W009', checkedAt: RESULT_EXAMPLE.checkedAt },
    },
  })
  @ApiErrors(400, 401)
  checkAttestation(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.attestations.checkFor(parseOrThrow(attestationBody, body).attestation, ctx.caller);
  }
}
