import { Body, Controller, Get, Headers, HttpCode, Param, Put, Res, UseGuards } from '@nestjs/common';
import { MaterialService } from '@tongban/materials';
import { ApiTokenGuard, RequiresToken } from './api-token.guard';
import { Ctx, RequestContext } from './request-context';

interface ReplyLike {
  header(name: string, value: string): ReplyLike;
}

/** Local API for case material files: upload (accepting gateway), list and download (any participant). */
@Controller('v1/cases/:id/materials')
@UseGuards(ApiTokenGuard)
@RequiresToken('api')
export class MaterialsController {
  constructor(private readonly materials: MaterialService) {}

  @Put(':code')
  @HttpCode(201)
  upload(@Param('id') id: string, @Param('code') code: string, @Body() body: unknown, @Headers() headers: Record<string, string | undefined>, @Ctx() ctx: RequestContext) {
    return this.materials.upload(id, code, body, { contentType: headers['content-type'], fileName: headers['x-file-name'] }, ctx.caller);
  }

  @Get()
  list(@Param('id') id: string) {
    return this.materials.list(id);
  }

  @Get(':materialId')
  async download(@Param('id') id: string, @Param('materialId') materialId: string, @Res({ passthrough: true }) reply: ReplyLike, @Ctx() ctx: RequestContext) {
    const f = await this.materials.download(id, materialId, ctx.caller);
    reply.header('content-type', f.mediaType).header('content-disposition', disposition(f.name)).header('x-content-sha256', f.sha256).header('x-content-type-options', 'nosniff');
    return f.bytes;
  }
}

/** `attachment` with an ASCII fallback name and the UTF-8 name (RFC 6266 / 8187). */
function disposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
