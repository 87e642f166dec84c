import { Body, Controller, Get, Headers, HttpCode, Param, Put, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiHeader, ApiOperation, ApiParam, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { MATERIAL_MEDIA_TYPES, MaterialService } from '@tongban/materials';
import { ApiErrors } from '@tongban/observability';
import { Access } from '@tongban/access';
import { Ctx, RequestContext } from './request-context';

interface ReplyLike {
  header(name: string, value: string): ReplyLike;
}

/** Local API for case material files: upload (accepting gateway), list and download (any participant). */
@ApiTags('cases')
@ApiBearerAuth('api')
@ApiParam({ name: 'id', description: 'Case id or collaboration id', example: '110000-20261125-K7Q2M9X4TB' })
@Controller('v1/cases/:id/materials')
export class MaterialsController {
  constructor(private readonly materials: MaterialService) {}

  @Access.scope('cases')
  @Put(':code')
  @HttpCode(201)
  @ApiOperation({ summary: 'Upload a material file (accepting gateway only); it is pushed to every participant, SHA-256 checked' })
  @ApiParam({ name: 'code', description: "A material code of the case's catalogue item", example: 'HOUSEHOLD_REGISTER' })
  @ApiConsumes(...MATERIAL_MEDIA_TYPES)
  @ApiHeader({ name: 'x-file-name', required: false, description: 'Original file name (UTF-8, percent-encoded if needed)' })
  @ApiBody({ description: 'The raw file, up to TONGBAN_MATERIAL_MAX_BYTES', schema: { type: 'string', format: 'binary' } })
  @ApiResponse({ status: 201, schema: { type: 'object', properties: { materialId: { type: 'string' }, code: { type: 'string' }, sha256: { type: 'string' }, size: { type: 'integer' } } } })
  @ApiErrors(400, 401, 403, 404, 413)
  upload(@Param('id') id: string, @Param('code') code: string, @Body() body: unknown, @Headers() headers: Record<string, string | undefined>, @Ctx() ctx: RequestContext) {
    return this.materials.upload(id, code, body, { contentType: headers['content-type'], fileName: headers['x-file-name'] }, ctx.caller);
  }

  @Access.scope('cases')
  @Get()
  @ApiOperation({ summary: 'Material files of a case (any participant)' })
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { materials: { type: 'array', items: { type: 'object' } } } } })
  @ApiErrors(401, 404)
  list(@Param('id') id: string) {
    return this.materials.list(id);
  }

  @Access.scope('cases')
  @Get(':materialId')
  @ApiOperation({ summary: 'Download a material file (audited); x-content-sha256 carries its digest' })
  @ApiProduces(...MATERIAL_MEDIA_TYPES)
  @ApiResponse({ status: 200, description: 'The file', schema: { type: 'string', format: 'binary' } })
  @ApiErrors(401, 404)
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
