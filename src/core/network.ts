import { BlockList, isIPv4, isIPv6 } from 'node:net';

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

/**
 * Where an address points, for outbound requests keyturn makes on someone's behalf (webhooks,
 * watched git remotes): `public`, or the kind of place a URL must not reach unless configuration
 * allows it — the machine itself (`loopback`, `unspecified`), the local networks (`private`,
 * including carrier-grade NAT and unique-local IPv6), `link-local` (where cloud metadata services
 * live: 169.254.169.254, fd00:ec2::254 is unique-local), or addresses no server has (`reserved`:
 * multicast, benchmarking, documentation-free special ranges).
 */
export type AddressClass = 'public' | 'loopback' | 'unspecified' | 'private' | 'link-local' | 'reserved';

const RANGES: ReadonlyArray<readonly [AddressClass, string, number, 'ipv4' | 'ipv6']> = [
  ['unspecified', '0.0.0.0', 8, 'ipv4'],
  ['private', '10.0.0.0', 8, 'ipv4'],
  ['private', '100.64.0.0', 10, 'ipv4'],
  ['loopback', '127.0.0.0', 8, 'ipv4'],
  ['link-local', '169.254.0.0', 16, 'ipv4'],
  ['private', '172.16.0.0', 12, 'ipv4'],
  ['reserved', '192.0.0.0', 24, 'ipv4'],
  ['private', '192.168.0.0', 16, 'ipv4'],
  ['reserved', '198.18.0.0', 15, 'ipv4'],
  ['reserved', '224.0.0.0', 4, 'ipv4'],
  ['reserved', '240.0.0.0', 4, 'ipv4'],
  ['unspecified', '::', 128, 'ipv6'],
  ['loopback', '::1', 128, 'ipv6'],
  ['reserved', '100::', 64, 'ipv6'],
  ['private', 'fc00::', 7, 'ipv6'],
  ['link-local', 'fe80::', 10, 'ipv6'],
  ['reserved', 'fec0::', 10, 'ipv6'],
  ['reserved', 'ff00::', 8, 'ipv6'],
];

const CLASS_LISTS = new Map<AddressClass, BlockList>();
for (const [cls, network, prefix, family] of RANGES) {
  let list = CLASS_LISTS.get(cls);
  if (!list) CLASS_LISTS.set(cls, (list = new BlockList()));
  list.addSubnet(network, prefix, family);
}

/**
 * The IPv4 address an IPv6 address carries (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`,
 * IPv4-compatible `::a.b.c.d`), which is where a connection to it ends up; `undefined` otherwise.
 */
function embeddedIpv4(address: string): string | undefined {
  const groups = ipv6Groups(address);
  if (!groups) return undefined;
  const mapped = groups.slice(0, 5).every((g) => g === 0) && (groups[5] === 0xffff || (groups[5] === 0 && (groups[6] ?? 0) !== 0));
  const nat64 = groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0);
  if (!mapped && !nat64) return undefined;
  return `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
}

/**
 * The {@link AddressClass} of an IP address; `undefined` when it is not one.
 *
 * @example
 * ```ts
 * addressClass('169.254.169.254'); // 'link-local'
 * addressClass('::ffff:127.0.0.1'); // 'loopback'
 * addressClass('93.184.216.34');    // 'public'
 * ```
 */
export function addressClass(address: string): AddressClass | undefined {
  const zone = address.indexOf('%');
  const bare = zone < 0 ? address : address.slice(0, zone);
  const family = isIPv4(bare) ? 'ipv4' : isIPv6(bare) ? 'ipv6' : undefined;
  if (family === undefined) return undefined;
  const v4 = family === 'ipv6' ? embeddedIpv4(bare) : undefined;
  if (v4 !== undefined) return addressClass(v4);
  for (const [cls, list] of CLASS_LISTS) if (list.check(bare, family)) return cls;
  return 'public';
}

/**
 * A list of networks (`10.0.0.0/8`, `::1/128`, single addresses) that an address is checked
 * against; `undefined` from {@link parseNetworks} names the first entry that is none of these.
 */
export class NetworkList {
  readonly #list = new BlockList();
  readonly #empty: boolean;

  constructor(networks: readonly string[]) {
    for (const text of networks) {
      const [address = '', bits] = text.split('/');
      const family = isIPv4(address) ? 'ipv4' : 'ipv6';
      const prefix = bits === undefined ? (family === 'ipv4' ? 32 : 128) : Number(bits);
      this.#list.addSubnet(address, prefix, family);
    }
    this.#empty = networks.length === 0;
  }

  /** Whether `address` (IPv4, IPv6, IPv4-mapped IPv6) is in one of the networks. */
  has(address: string): boolean {
    if (this.#empty) return false;
    const zone = address.indexOf('%');
    const bare = zone < 0 ? address : address.slice(0, zone);
    const v4 = isIPv6(bare) ? embeddedIpv4(bare) : undefined;
    const [a, family] = v4 !== undefined ? [v4, 'ipv4' as const] : [bare, isIPv4(bare) ? ('ipv4' as const) : ('ipv6' as const)];
    return (isIPv4(a) || isIPv6(a)) && this.#list.check(a, family);
  }
}

/** Whether `text` is an address or a CIDR network (`10.0.0.0/8`, `fd00::/8`). */
export function isNetwork(text: string): boolean {
  const [address = '', bits, extra] = text.split('/');
  const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : 0;
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}
