import { describe, expect, it } from 'vitest';
import { sourceNetwork } from '../../src/core/network.js';

describe('sourceNetwork', () => {
  it.each([
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:db8:0:1:aaaa:bbbb:cccc:dddd', '2001:db8:0:1::/64'],
    ['2001:db8:0:1::1', '2001:db8:0:1::/64'],
    ['2001:0db8:0000:0001:ffff::', '2001:db8:0:1::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['not-an-ip', 'unknown'],
    ['', 'unknown'],
    [null, 'unknown'],
  ])('%s → %s', (address, network) => {
    expect(sourceNetwork(address)).toBe(network);
  });

  it('puts every address of one /64 in one network and neighbours in others', () => {
    expect(sourceNetwork('2001:db8:1:2:3:4:5:6')).toBe(sourceNetwork('2001:db8:1:2:ffff:ffff:ffff:ffff'));
    expect(sourceNetwork('2001:db8:1:2::1')).not.toBe(sourceNetwork('2001:db8:1:3::1'));
  });

  it('takes other prefix lengths', () => {
    expect(sourceNetwork('2001:db8:abcd:1234::1', 48)).toBe('2001:db8:abcd::/48');
    expect(sourceNetwork('2001:db8:abcd:1234::1', 56)).toBe('2001:db8:abcd:1200::/56');
  });
});
