import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { parseOrThrow } from '@tongban/common';
import { AttestationService, VerificationService } from '@tongban/verification';
import { ApiTokenGuard, RequiresToken } from './api-token.guard';
import { Ctx, RequestContext } from './request-context';

const attestationBody = z.object({ attestation: z.string().min(1).max(8192) }).strict();

/** Local API for provincial systems: verify licences, check attestations. */
@Controller('v1')
@UseGuards(ApiTokenGuard)
@RequiresToken('api')
export class VerificationController {
  constructor(
    private readonly verification: VerificationService,
    private readonly attestations: AttestationService,
  ) {}

  @Post('verifications')
  @HttpCode(200)
  verify(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.verification.verify(body, ctx.caller, ctx.correlationId);
  }

  @Post('verifications/batch')
  @HttpCode(200)
  verifyBatch(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.verification.verifyBatch(body, ctx.caller, ctx.correlationId);
  }

  @Post('attestations/verify')
  @HttpCode(200)
  checkAttestation(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.attestations.checkFor(parseOrThrow(attestationBody, body).attestation, ctx.caller);
  }
}
