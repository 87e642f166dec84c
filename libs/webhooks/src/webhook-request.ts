import { request as httpRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { LookupFunction } from 'node:net';
import { CheckedAddress } from './webhook-address-policy';

/** A lookup that answers every query with the address already checked (no second DNS answer). */
function pinned(target: CheckedAddress): LookupFunction {
  return ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  }) as unknown as LookupFunction;
}

/** The request did not get an answer in time. */
export class WebhookTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * POSTs `body` to `url`, connecting to `target` (the address the policy checked) whatever DNS says
 * now; TLS still verifies the certificate for the URL's host name. Redirects are not followed.
 * Resolves with the HTTP status; the response body is discarded.
 */
export function postToCheckedAddress(url: URL, target: CheckedAddress, headers: Record<string, string>, body: string, timeoutMs: number): Promise<number> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<number>((resolve, reject) => {
    const req = send(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, lookup: pinned(target), agent: false }, (res: IncomingMessage) => {
      clearTimeout(timer);
      res.resume();
      res.once('error', () => undefined);
      resolve(res.statusCode ?? 0);
    });
    const timer = setTimeout(() => req.destroy(new WebhookTimeout(timeoutMs)), timeoutMs);
    req.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(body);
  });
}
