import { parseCidr } from '@tongban/common';
import { BlockedAddress, classifyAddress, embeddedIpv4, UnresolvedHost, WebhookAddressPolicy } from './webhook-address-policy';

describe('webhook address policy', () => {
  it.each([
    // IPv4
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.5', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['169.254.169.254', 'metadata'],
    ['169.254.1.1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['192.0.2.10', 'reserved'],
    // IPv6
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fd00:ec2::254', 'metadata'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    // IPv4 inside IPv6: judged as the IPv4 address it stands for
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['0:0:0:0:0:ffff:c0a8:0101', 'private'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::a00:1', 'private'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:a9fe:a9fe::1', 'metadata'],
    ['::127.0.0.1', 'reserved'],
    // 6to4 (2002:AABB:CCDD::/48) and Teredo (2001:0::/32, client address inverted in the last 32 bits)
    ['2002:0a00:0001::1', 'private'],
    ['2002:c0a8:101:1::', 'private'],
    ['2002:a9fe:1::', 'link-local'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'loopback'],
    ['2001:0:4136:e378:8000:63bf:f5ff:fffe', 'private'],
    ['2001::5601:5601', 'metadata'],
    ['2001:0000:4136:e378:8000:63bf:3fff:fdd2', 'reserved'],
    ['2001:0:4136:e378::ffff:ffff', 'unspecified'],
  ])('%s is %s', (address, reason) => {
    expect(classifyAddress(address)).toBe(reason);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '172.15.255.255',
    '100.128.0.1',
    '169.253.255.255',
    '223.255.255.255',
    '2400:3200::1',
    '2001:4860:4860::8888',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
    '2001:0:4136:e378:8000:63bf:f7f7:f7f7',
  ])('%s is public', (address) => {
    expect(classifyAddress(address)).toBeNull();
  });

  it('finds IPv4 inside IPv6 in every spelling', () => {
    expect(embeddedIpv4('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(embeddedIpv4('::FFFF:7F00:0001')).toBe('127.0.0.1');
    expect(embeddedIpv4('0000:0000:0000:0000:0000:ffff:0a00:0001')).toBe('10.0.0.1');
    expect(embeddedIpv4('2400:3200::1')).toBeUndefined();
    expect(embeddedIpv4('2002:c0a8:0101::1')).toBe('192.168.1.1');
    // RFC 4380 §4's example: Teredo client 192.0.2.45 behind server 65.54.227.120
    expect(embeddedIpv4('2001:0000:4136:e378:8000:63bf:3fff:fdd2')).toBe('192.0.2.45');
    // 2001:db8::/32 and other 2001:: prefixes are not Teredo
    expect(embeddedIpv4('2001:db8::1')).toBeUndefined();
    expect(embeddedIpv4('2001:4860:4860::8888')).toBeUndefined();
  });

  it('parses allowed ranges and names a bad one', () => {
    expect(parseCidr('10.20.0.0/16')).toEqual({ address: '10.20.0.0', prefix: 16, family: 'ipv4' });
    expect(parseCidr('fd12:3456::/48')).toEqual({ address: 'fd12:3456::', prefix: 48, family: 'ipv6' });
    expect(parseCidr('127.0.0.1')).toEqual({ address: '127.0.0.1', prefix: 32, family: 'ipv4' });
    for (const bad of ['10.0.0.0/33', 'fd00::/129', 'example.com/8', '10.0.0.0/8/1', '10.0.0.0/', '10.0.0.0/1e1', '']) expect(() => parseCidr(bad)).toThrow(/is not an IPv4 or IPv6 address range/);
  });

  it('lets the operator allow a range, also for the IPv4-mapped spelling', () => {
    const policy = new WebhookAddressPolicy(['127.0.0.0/8', 'fd12:3456::/48']);
    expect(policy.refusal('127.0.0.1')).toBeNull();
    expect(policy.refusal('::ffff:127.0.0.1')).toBeNull();
    expect(policy.refusal('fd12:3456::9')).toBeNull();
    expect(policy.refusal('fd12:3457::9')).toBe('private');
    expect(policy.refusal('10.0.0.1')).toBe('private');
    expect(policy.refusal('169.254.169.254')).toBe('metadata');
    expect(policy.refusal('8.8.8.8')).toBeNull();
    // an allowed IPv4 range covers its 6to4 and Teredo spellings; others stay refused
    expect(policy.refusal('2002:7f00:1::1')).toBeNull();
    expect(policy.refusal('2001:0:4136:e378:8000:63bf:80ff:fffe')).toBeNull();
    expect(policy.refusal('2001:0:4136:e378:8000:63bf:f5ff:fffe')).toBe('private');
  });

  describe('resolve', () => {
    const answers: Record<string, { address: string; family: number }[]> = {
      'hall.example.gov.cn': [{ address: '203.119.25.1', family: 4 }],
      'mixed.example': [
        { address: '203.119.25.1', family: 4 },
        { address: '10.0.0.8', family: 4 },
      ],
      'mapped.example': [{ address: '::ffff:169.254.169.254', family: 6 }],
    };
    const resolver = async (host: string) => {
      if (!answers[host]) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      return answers[host];
    };
    const policy = new WebhookAddressPolicy([], resolver);

    it('returns the checked address of a public name', async () => {
      await expect(policy.resolve('hall.example.gov.cn')).resolves.toEqual({ address: '203.119.25.1', family: 4 });
    });

    it('refuses a name when any of its addresses is not public', async () => {
      await expect(policy.resolve('mixed.example')).rejects.toMatchObject({ name: 'BlockedAddress', address: '10.0.0.8', reason: 'private' });
      await expect(policy.resolve('mapped.example')).rejects.toMatchObject({ reason: 'metadata' });
    });

    it('checks IP literals without resolving, bracketed IPv6 too', async () => {
      await expect(policy.resolve('127.0.0.1')).rejects.toBeInstanceOf(BlockedAddress);
      await expect(policy.resolve('[::1]')).rejects.toMatchObject({ reason: 'loopback' });
      await expect(policy.resolve('[2400:3200::1]')).resolves.toEqual({ address: '2400:3200::1', family: 6 });
    });

    it('names a host that does not resolve', async () => {
      await expect(policy.resolve('nowhere.example')).rejects.toEqual(new UnresolvedHost('nowhere.example', 'ENOTFOUND'));
    });
  });
});
