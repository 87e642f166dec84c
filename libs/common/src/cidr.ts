import { isIP } from 'node:net';

/** Parses `a.b.c.d/n` or `x::y/n` (a bare address is one host); throws with the entry named. */
export function parseCidr(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const [address, p, extra] = entry.trim().split('/');
  const family = isIP(address);
  const max = family === 4 ? 32 : 128;
  const prefix = p === undefined ? max : Number(p);
  if (!family || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max || (p !== undefined && !/^\d{1,3}$/.test(p))) {
    throw new Error(`${entry.trim() || '(empty)'} is not an IPv4 or IPv6 address range (e.g. 10.20.0.0/16, fd12:3456::/48)`);
  }
  return { address, prefix, family: family === 4 ? 'ipv4' : 'ipv6' };
}
