import { createHmac, timingSafeEqual } from 'node:crypto';

/** Value of `x-tongban-signature` for `body` sent at `t` (unix seconds): `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. */
export function signWebhook(secret: string, t: number, body: string): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/** The receiver's check (documented recipe): signature matches and `t` is within `toleranceS` of `nowS`. */
export function verifyWebhook(secret: string, header: string, body: string, nowS: number, toleranceS = 300): boolean {
  const m = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header);
  if (!m || Math.abs(nowS - Number(m[1])) > toleranceS) return false;
  const expected = Buffer.from(signWebhook(secret, Number(m[1]), body).split(',v1=')[1], 'hex');
  return timingSafeEqual(expected, Buffer.from(m[2], 'hex'));
}
