import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';

/**
 * Gateway settings for e2e tests with a receiver: case messages, notices and webhooks retried fast,
 * and loopback webhook URLs allowed (the receiver is this test process on 127.0.0.1).
 */
export const RECEIVER_ENV = {
  TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50',
  TONGBAN_DELIVERY_BACKOFF_CAP_MS: '400',
  TONGBAN_DELIVERY_POLL_MS: '100',
  TONGBAN_WEBHOOK_BACKOFF_BASE_MS: '50',
  TONGBAN_WEBHOOK_BACKOFF_CAP_MS: '400',
  TONGBAN_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
};

/** One request a local system's webhook receiver got. `body` is the parsed JSON (undefined when the body is not JSON). */
export interface ReceivedHook<T> {
  path: string;
  headers: IncomingHttpHeaders;
  /** The `x-tongban-signature` header ('undefined' when missing). */
  signature: string;
  raw: string;
  body: T;
}

/**
 * A local system's webhook receiver: a real HTTP server on 127.0.0.1 in the test process (the
 * gateways need TONGBAN_WEBHOOK_ALLOW_CIDRS=127.0.0.0/8 to deliver to it). Keeps every request in
 * arrival order; `respond` chooses each answer's status (default 204).
 */
export class WebhookReceiver<T = unknown> {
  readonly received: ReceivedHook<T>[] = [];
  private readonly waiters: (() => boolean)[] = [];

  private readonly server: Server;
  /** http://127.0.0.1:<port> (set by start) */
  base = '';

  private constructor(respond: (hook: ReceivedHook<T>) => number) {
    this.server = createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (raw += c));
      req.on('end', () => {
        const hook: ReceivedHook<T> = { path: req.url ?? '', headers: req.headers, signature: String(req.headers['x-tongban-signature']), raw, body: parseJson(raw) as T };
        this.received.push(hook);
        this.wake();
        res.statusCode = respond(hook);
        res.end();
      });
    });
  }

  /** Starts a receiver on a free loopback port. */
  static async start<T = unknown>(respond: (hook: ReceivedHook<T>) => number = () => 204): Promise<WebhookReceiver<T>> {
    const receiver = new WebhookReceiver<T>(respond);
    await new Promise<void>((r) => receiver.server.listen(0, '127.0.0.1', r));
    receiver.base = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}`;
    return receiver;
  }

  /** The requests received at `path`. */
  at(path: string): ReceivedHook<T>[] {
    return this.received.filter((r) => r.path === path);
  }

  /** Resolves with the first webhook at `path` matching `ok` (already received or arriving), or fails after `ms`. */
  next(path: string, ok: (h: ReceivedHook<T>) => boolean, ms: number): Promise<ReceivedHook<T>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no webhook at ${path} within ${ms} ms (received: ${this.received.map((r) => r.path).join(', ')})`)), ms);
      const check = () => {
        const found = this.received.find((h) => h.path === path && ok(h));
        if (!found) return false;
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      if (!check()) this.waiters.push(check);
    });
  }

  /** Stops listening (and drops idle keep-alive connections of the gateways). */
  async close(): Promise<void> {
    const closed = new Promise((r) => this.server.close(r));
    this.server.closeIdleConnections();
    await closed;
  }

  private wake(): void {
    for (const w of [...this.waiters]) if (w()) this.waiters.splice(this.waiters.indexOf(w), 1);
  }
}

/** The receiver's check of `x-tongban-signature`, written out as a subscriber would (docs/protocol.md §Webhooks): HMAC-SHA256 over `t.raw`, at most 300 s old. */
export function signatureValid(secret: string, header: string | undefined, raw: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m || Math.abs(Date.now() / 1000 - Number(m[1])) > 300) return false;
  return timingSafeEqual(createHmac('sha256', secret).update(`${m[1]}.${raw}`).digest(), Buffer.from(m[2], 'hex'));
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}
