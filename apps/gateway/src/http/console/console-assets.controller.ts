import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Access } from '@tongban/access';
import { QueryParam, ValidQuery, querySchema } from '@tongban/common';
import { CONSOLE_HEADERS, ConsoleAssets } from './console-assets';

interface AssetReply {
  status(code: number): AssetReply;
  header(name: string, value: string): AssetReply;
  send(body: unknown): unknown;
}

/** The console's own pages may carry a cache-busting `v`; nothing else. */
const ASSET_QUERY = querySchema({ v: QueryParam.text(/^[A-Za-z0-9._-]{1,64}$/, 'a version tag').optional() });

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The admin console's files (docs/operations.md §20): /console/ and everything under it from the
 * built dist/console, with the console's security headers. Public like the page of any sign-in
 * form: the files hold no data; every call they make goes to the admin API under its rules.
 */
@ApiTags('console')
@Controller('console')
export class ConsoleAssetsController {
  constructor(@Inject(ConsoleAssets) private readonly assets: ConsoleAssets) {}

  @Access.public()
  @Get()
  @ApiOperation({ summary: 'Redirects to /console/ (the admin console)' })
  @ApiResponse({ status: 308, description: 'Location: /console/' })
  root(@Res() reply: AssetReply): void {
    reply.status(308).header('location', '/console/').send('');
  }

  @Access.public()
  @Get('*')
  @ValidQuery(ASSET_QUERY)
  @ApiOperation({
    summary:
      'The admin console: a file of dist/console, or its index.html for a path without a file extension (routes of the single-page app); Content-Security-Policy without inline script or style. 404 when the console was not built',
  })
  @ApiParam({ name: 'path', description: 'Path under /console/' })
  @ApiProduces('text/html', 'text/javascript', 'text/css', 'image/svg+xml')
  @ApiResponse({ status: 200, description: 'The file' })
  @ApiResponse({ status: 304, description: 'Unchanged (If-None-Match)' })
  @ApiResponse({ status: 404, description: 'No such file, a path under /console/api/, or the console is not built' })
  file(@Param('*') path: string | undefined, @Req() req: { headers: Record<string, string | string[] | undefined> }, @Res() reply: AssetReply): void {
    for (const [name, value] of Object.entries(CONSOLE_HEADERS)) reply.header(name, value);
    const rest = path ?? '';
    // Only plain paths (no empty, dot or odd segment) and never under api/: another spelling of an
    // API route (`/console//api/session`, `/console/API/…`) is a 404, not the console's page.
    const segments = rest.split('/');
    const plain = rest === '' || segments.every((seg) => SEGMENT.test(seg));
    const asset = !plain || segments[0].toLowerCase() === 'api' ? undefined : this.assets.find(rest);
    if (!asset) {
      // A page that says why, not a bare error: an operator opening /console/ sees what to do.
      const why = this.assets.missing ?? `no file /console/${rest.slice(0, 100)}`;
      reply
        .status(404)
        .header('content-type', 'text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(`<!doctype html><html lang="en"><meta charset="utf-8"><title>Not found</title><h1>404</h1><p>${escapeHtml(why)}</p></html>`);
      return;
    }
    // Files keep their names between builds: the browser revalidates each time (ETag), cheap and never stale.
    reply.header('cache-control', 'no-cache').header('etag', asset.etag);
    if (req.headers['if-none-match'] === asset.etag) {
      reply.status(304).send('');
      return;
    }
    reply.status(200).header('content-type', asset.type).send(asset.body);
  }
}
