import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { parseCidr } from '@tongban/common';

/** Why an address is not a public one. */
export type BlockReason = 'loopback' | 'private' | 'link-local' | 'metadata' | 'unspecified' | 'multicast' | 'reserved';

// Ranges a webhook may not reach unless the operator allows them (TONGBAN_WEBHOOK_ALLOW_CIDRS).
// Order matters: the first match names the reason (metadata before link-local and private).
const V4: [string, number, BlockReason][] = [
  ['169.254.169.254', 32, 'metadata'],
  ['0.0.0.0', 8, 'unspecified'],
  ['127.0.0.0', 8, 'loopback'],
  ['10.0.0.0', 8, 'private'],
  ['172.16.0.0', 12, 'private'],
  ['192.168.0.0', 16, 'private'],
  ['100.64.0.0', 10, 'private'], // carrier-grade NAT, shared address space
  ['169.254.0.0', 16, 'link-local'],
  ['224.0.0.0', 4, 'multicast'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'reserved'],
  ['198.18.0.0', 15, 'reserved'],
  ['198.51.100.0', 24, 'reserved'],
  ['203.0.113.0', 24, 'reserved'],
  ['240.0.0.0', 4, 'reserved'], // includes 255.255.255.255
];
const V6: [string, number, BlockReason][] = [
  ['fd00:ec2::254', 128, 'metadata'],
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['fc00::', 7, 'private'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'private'], // deprecated site-local
  ['ff00::', 8, 'multicast'],
  ['::', 96, 'reserved'], // deprecated IPv4-compatible addresses
  ['100::', 64, 'reserved'],
  ['2001:db8::', 32, 'reserved'],
];

function blockList(family: 'ipv4' | 'ipv6', rows: [string, number, BlockReason][]): [BlockList, BlockReason][] {
  return rows.map(([net, prefix, reason]) => {
    const b = new BlockList();
    b.addSubnet(net, prefix, family);
    return [b, reason];
  });
}
const V4_LISTS = blockList('ipv4', V4);
const V6_LISTS = blockList('ipv6', V6);

/** The 16 bytes of an IPv6 address (`isIP(a) === 6`), zone id dropped. */
function ipv6Bytes(address: string): Buffer {
  let a = address.split('%')[0].toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4) {
    const [p, q, r, s] = v4[1].split('.').map(Number);
    a = a.slice(0, -v4[1].length) + `${((p << 8) | q).toString(16)}:${((r << 8) | s).toString(16)}`;
  }
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return out;
}

/**
 * The IPv4 address an IPv6 address stands for, when it embeds one that a host or a NAT would reach:
 * IPv4-mapped (::ffff:a.b.c.d, also written ::ffff:7f00:1), NAT64 (64:ff9b::/96), 6to4
 * (2002:AABB:CCDD::/48) and Teredo (2001:0::/32, RFC 4380: the client's address is the last 32 bits,
 * each inverted; a relay delivers there). Undefined otherwise.
 */
export function embeddedIpv4(address: string): string | undefined {
  const b = ipv6Bytes(address);
  const zero = (from: number, to: number) => b.subarray(from, to).every((x) => x === 0);
  const v4 = (at: number) => [...b.subarray(at, at + 4)].join('.');
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(12);
  if (b.readUInt16BE(0) === 0x64 && b.readUInt16BE(2) === 0xff9b && zero(4, 12)) return v4(12);
  if (b.readUInt16BE(0) === 0x2002) return v4(2);
  if (b.readUInt16BE(0) === 0x2001 && b.readUInt16BE(2) === 0) return [...b.subarray(12, 16)].map((x) => x ^ 0xff).join('.');
  return undefined;
}

/** Why `address` (an IP literal) is not public, or null when it is. Embedded IPv4 addresses are judged as IPv4. */
export function classifyAddress(address: string): BlockReason | null {
  const family = isIP(address);
  if (family === 4) return V4_LISTS.find(([b]) => b.check(address, 'ipv4'))?.[1] ?? null;
  if (family !== 6) return 'reserved';
  const inner = embeddedIpv4(address);
  if (inner) return classifyAddress(inner);
  const plain = address.split('%')[0];
  return V6_LISTS.find(([b]) => b.check(plain, 'ipv6'))?.[1] ?? null;
}

/** An address a webhook may not be sent to, with the host it came from. */
export class BlockedAddress extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
    readonly reason: BlockReason,
  ) {
    super(`${host === address ? address : `${host} resolves to ${address}`}, a ${reason} address`);
    this.name = 'BlockedAddress';
  }
}

/** The host name did not resolve. */
export class UnresolvedHost extends Error {
  constructor(
    readonly host: string,
    readonly code: string,
  ) {
    super(`${host} does not resolve (${code})`);
    this.name = 'UnresolvedHost';
  }
}

/** A resolved and checked address to connect to. */
export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

export type Resolver = (host: string) => Promise<{ address: string; family: number }[]>;
const systemResolver: Resolver = (host) => dnsLookup(host, { all: true, verbatim: true });

/**
 * Where webhooks may go: public addresses, plus the ranges the operator allows. A host name is
 * resolved and **every** address it resolves to must pass (an attacker's name with one public and
 * one private address is refused); the caller then connects to the checked address itself, so a
 * second DNS answer (rebinding) cannot send the request elsewhere.
 */
export class WebhookAddressPolicy {
  private readonly allowed = new BlockList();

  constructor(
    allowCidrs: string[] = [],
    private readonly resolver: Resolver = systemResolver,
  ) {
    for (const entry of allowCidrs) {
      const c = parseCidr(entry);
      this.allowed.addSubnet(c.address, c.prefix, c.family);
    }
  }

  /** Null when `address` may be reached; else why not. */
  refusal(address: string): BlockReason | null {
    const reason = classifyAddress(address);
    if (!reason) return null;
    const plain = address.split('%')[0];
    const inner = isIP(plain) === 6 ? embeddedIpv4(plain) : undefined;
    if (this.allowed.check(plain, isIP(plain) === 4 ? 'ipv4' : 'ipv6') || (inner && this.allowed.check(inner, 'ipv4'))) return null;
    return reason;
  }

  /** Resolves `host` (a name or an IP literal, IPv6 in brackets or not) and checks every address; throws BlockedAddress or UnresolvedHost. */
  async resolve(host: string): Promise<CheckedAddress> {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    let found: { address: string; family: number }[];
    if (isIP(bare)) found = [{ address: bare, family: isIP(bare) }];
    else {
      try {
        found = await this.resolver(bare);
      } catch (e) {
        throw new UnresolvedHost(bare, (e as { code?: string }).code ?? 'ERROR');
      }
      if (!found.length) throw new UnresolvedHost(bare, 'NODATA');
    }
    for (const a of found) {
      const reason = this.refusal(a.address);
      if (reason) throw new BlockedAddress(bare, a.address, reason);
    }
    return { address: found[0].address, family: found[0].family === 6 ? 6 : 4 };
  }
}
