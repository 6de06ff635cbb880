import { isIPv4, isIPv6 } from 'node:net';

/**
 * Source networks: what rate limits and failure aggregation key on. One IPv4 address is one
 * source; an IPv6 host usually owns a whole /64 (SLAAC, privacy addresses), so a /64 is one source
 * — otherwise a single client could rotate through 2^64 "sources". IPv4-mapped IPv6 addresses
 * (`::ffff:192.0.2.1`) are their IPv4 address.
 */

/** The 8 groups of an IPv6 address as numbers, or `undefined` when it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  const zone = address.indexOf('%');
  const text = zone < 0 ? address : address.slice(0, zone);
  if (!isIPv6(text)) return undefined;
  let head = text;
  let tail = '';
  const gap = text.indexOf('::');
  if (gap >= 0) {
    head = text.slice(0, gap);
    tail = text.slice(gap + 2);
  }
  const parse = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const [a, b, c, d] = piece.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else out.push(Number.parseInt(piece, 16));
    }
    return out;
  };
  const first = parse(head);
  const last = parse(tail);
  return [...first, ...new Array<number>(8 - first.length - last.length).fill(0), ...last];
}

/**
 * The source network of an address: the IPv4 address itself, or the IPv6 /`v6Prefix` (default 64)
 * written as `2001:db8:0:1::/64`. `unknown` for anything that is not an IP address (no socket
 * address, a Unix socket), so such requests share one bucket rather than escaping every limit.
 *
 * @example
 * ```ts
 * sourceNetwork('2001:db8:0:1:aaaa::1'); // '2001:db8:0:1::/64'
 * sourceNetwork('::ffff:192.0.2.7');      // '192.0.2.7'
 * ```
 */
export function sourceNetwork(address: string | null | undefined, v6Prefix = 64): string {
  if (!address) return 'unknown';
  if (isIPv4(address)) return address;
  const groups = ipv6Groups(address);
  if (!groups) return 'unknown';
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  }
  const whole = Math.floor(v6Prefix / 16);
  const rest = v6Prefix % 16;
  const kept = groups.slice(0, whole);
  if (rest > 0) kept.push(groups[whole]! & ((0xffff << (16 - rest)) & 0xffff));
  return `${kept.map((g) => g.toString(16)).join(':')}${kept.length < 8 ? '::' : ''}/${v6Prefix}`;
}
