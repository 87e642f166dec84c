/**
 * Waits for a condition observed through a gateway's API (cases move between processes
 * asynchronously). Bounded: fails with the last observation after `timeoutMs`.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (let delay = 20; Date.now() < deadline; delay = Math.min(delay * 2, 250)) {
    last = await probe();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, delay));
  }
  throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)?.slice(0, 2000)}`);
}

/**
 * Waits until a gateway's captured output (stdout + stderr) matches `pattern`. A line the gateway
 * wrote while serving a request can reach this process after the request's HTTP or gRPC answer (two
 * pipes, read in whatever order the event loop gets them): check log lines with this, never right
 * after the call.
 */
export function waitForOutput(gw: { code: string; output(): string }, pattern: RegExp | string, timeoutMs = 15_000): Promise<string> {
  const matches = (o: string) => (typeof pattern === 'string' ? o.includes(pattern) : pattern.test(o));
  return waitFor(`${gw.code} to log ${String(pattern)}`, async () => gw.output(), matches, timeoutMs);
}
