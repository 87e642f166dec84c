import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { StandInLibraryConfig } from '@tongban/config';
import { StandInError, StandInStore } from './stand-in-store';

const MAX_BODY = 16 * 1024;
const MAX_LIMIT = 1000;

/**
 * The stand-in library's HTTP API (docs/licence-library.md §5). Reads need the gateway's token,
 * status changes the library administrator's; both as `Authorization: Bearer …`. Answers are
 * `{code, msg, data}` with code 0 on success, in the manner of many provincial platforms.
 */
export function standInServer(store: StandInStore, config: StandInLibraryConfig): Server {
  const reader = digest(`Bearer ${config.token}`);
  const admin = digest(`Bearer ${config.adminToken}`);
  return createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (e instanceof StandInError) return send(res, e.status, { code: e.status, msg: e.message });
      process.stderr.write(`licence-library: ${(e as Error).stack ?? String(e)}\n`);
      send(res, 500, { code: 500, msg: 'internal error' });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const path = url.pathname;
    if (req.method === 'GET' && path === '/health') return send(res, 200, { code: 0, msg: 'ok' });
    const presented = digest(req.headers.authorization ?? '');
    if (req.method === 'POST' && path.startsWith('/admin/')) {
      if (!timingSafeEqual(presented, admin)) throw new StandInError(401, 'admin token required');
      const m = /^\/admin\/zz\/([^/]+)\/status$/.exec(path);
      if (!m) throw new StandInError(404, 'no such route');
      const body = await readJson(req);
      const change = store.setStatus(decodeURIComponent(m[1]), text(body.ZZZT), text(body.BGYY));
      return send(res, 200, { code: 0, msg: change ? '成功' : '状态未变', data: { change } });
    }
    if (req.method !== 'GET') throw new StandInError(405, 'method not allowed');
    if (!timingSafeEqual(presented, reader)) throw new StandInError(401, 'token required');
    if (path === '/dzzz/v1/changes') return send(res, 200, { code: 0, msg: '成功', data: store.changesAfter(url.searchParams.get('cursor') ?? '', limitOf(url)) });
    // The full listing (证照清单) for a gateway's initial synchronisation.
    if (path === '/dzzz/v1/zzqd') return send(res, 200, { code: 0, msg: '成功', data: store.list(url.searchParams.get('cursor') ?? '', limitOf(url)) });
    if (config.testDelayMs > 0) await new Promise((r) => setTimeout(r, config.testDelayMs));
    const byId = /^\/dzzz\/v1\/zz\/([^/]+)$/.exec(path);
    if (byId) return found(res, store.get(decodeURIComponent(byId[1])));
    if (path === '/dzzz/v1/zz') {
      const type = url.searchParams.get('ZZLXDM');
      const number = url.searchParams.get('ZZBH');
      if (!type || !number) throw new StandInError(400, 'ZZLXDM and ZZBH are required');
      return found(res, store.findByNumber(type, number));
    }
    throw new StandInError(404, 'no such route');
  }
}

function limitOf(url: URL): number {
  const limit = Number(url.searchParams.get('limit') ?? '100');
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new StandInError(400, `limit must be 1-${MAX_LIMIT}`);
  return limit;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : '');

function found(res: ServerResponse, record: unknown): void {
  if (!record) return send(res, 404, { code: 404, msg: '未找到证照' });
  send(res, 200, { code: 0, msg: '成功', data: record });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

// Compared as digests: equal length, so timingSafeEqual never throws and leaks no length.
function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new StandInError(413, `body larger than ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new StandInError(400, 'body must be a JSON object');
}
