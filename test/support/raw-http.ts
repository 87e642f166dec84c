import { Agent, request } from 'node:http';

/** One request sent with the path exactly as given (no URL normalisation of dot segments, case or escapes). */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

/** Sends `method path` to 127.0.0.1:`port` over HTTP/1.1 as written; resolves with status, headers and body text. */
export function rawRequest(port: number, method: string, path: string, options: { headers?: Record<string, string>; body?: string | Buffer; agent?: Agent | false } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: options.headers ?? {}, agent: options.agent === undefined ? agent : options.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Runs `tasks` with at most `width` in flight. */
export async function inParallel<T>(tasks: (() => Promise<T>)[], width = 16): Promise<T[]> {
  const out = new Array<T>(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, tasks.length) }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await tasks[i]();
      }
    }),
  );
  return out;
}

/** Closes the shared keep-alive sockets (call in afterAll). */
export function closeRawAgent(): void {
  agent.destroy();
}
