import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { KeyturnError } from '../core/errors.js';
import { addressClass, NetworkList } from '../core/network.js';

/** Resolves a host name to every address it has (`dns.lookup` with `all`, by default). */
export type ResolveAll = (host: string) => Promise<readonly string[]>;

const systemResolve: ResolveAll = async (host) => (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * Where outbound requests made on someone's behalf may go: webhooks (a principal's, the global leak
 * webhook, rotation's) and watched git remotes. A URL whose host is, or resolves to, a loopback,
 * link-local (cloud metadata), private, unspecified or reserved address is refused — every address
 * of the answer is checked — unless that address is in `allow` (the `egressAllow` setting). Checked
 * when the URL is registered and again before each delivery or clone, so a name that later resolves
 * somewhere private (DNS rebinding) is caught then; and the connection goes to the very addresses
 * checked ({@link lookup} for webhooks, {@link pinGit} for git), never to a second resolution.
 *
 * @example
 * ```ts
 * const egress = new EgressGuard({ allow: ['10.1.2.0/24'] });
 * await egress.check('https://hooks.example.com/x', 'webhookUrl'); // throws ERR_VALIDATION for http://169.254.169.254/
 * ```
 */
export class EgressGuard {
  readonly #allow: NetworkList;
  readonly #resolve: ResolveAll;

  constructor(options: { allow?: readonly string[]; resolve?: ResolveAll } = {}) {
    this.#allow = new NetworkList(options.allow ?? []);
    this.#resolve = options.resolve ?? systemResolve;
  }

  /** The first address of `host` keyturn must not reach, with its class; `undefined` when all are fine. */
  async forbidden(host: string): Promise<{ address: string; class: string } | undefined> {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    let addresses: readonly string[];
    if (isIP(bare) !== 0) addresses = [bare];
    else {
      try {
        addresses = await this.#resolve(bare);
      } catch {
        return undefined; // does not resolve (now): nothing to reach; checked again before each use
      }
    }
    for (const address of addresses) {
      const cls = addressClass(address) ?? 'reserved';
      if (cls !== 'public' && !this.#allow.has(address)) return { address, class: cls };
    }
    return undefined;
  }

  /**
   * A `lookup` for `node:net`/`node:http`: resolves `host` as {@link forbidden} does and fails the
   * connection (error code `EGRESS_FORBIDDEN`) when any address is one keyturn must not reach — so
   * the addresses checked are the very ones connected to, with no second resolution in between.
   * (A literal IP never reaches a lookup: check it with {@link forbidden} first.)
   */
  readonly lookup = (host: string, options: LookupOptions, callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void): void => {
    this.#resolve(host).then(
      (addresses) => {
        const bad = addresses.find((a) => (addressClass(a) ?? 'reserved') !== 'public' && !this.#allow.has(a));
        if (bad !== undefined || addresses.length === 0) {
          const err = new Error(bad === undefined ? `${host} has no address` : `${host} resolves to ${bad}, which keyturn does not reach`) as NodeJS.ErrnoException;
          err.code = bad === undefined ? 'ENOTFOUND' : 'EGRESS_FORBIDDEN';
          callback(err, '');
          return;
        }
        const all = addresses.map((address) => ({ address, family: isIP(address) }));
        if (options.all) callback(null, all);
        else callback(null, all[0]!.address, all[0]!.family);
      },
      (err: Error) => callback(err, ''),
    );
  };

  /** Throws `ERR_VALIDATION` naming `what` when `host` is, or resolves to, an address keyturn must not reach. */
  async checkHost(host: string, what: string): Promise<void> {
    const found = await this.forbidden(host);
    if (found) {
      throw new KeyturnError(
        'ERR_VALIDATION',
        `${what}: ${host === found.address ? found.address : `${host} resolves to ${found.address}`}, a ${found.class} address; keyturn sends nothing to loopback, link-local (metadata), private or reserved addresses unless egressAllow allows the network`,
      );
    }
  }

  /**
   * Resolves the host of the git remote `url` once, checks every address as {@link checkHost}
   * does, and answers how to make git connect to exactly those addresses, so that git resolving
   * the name again at clone time (DNS rebinding) cannot take it anywhere else:
   * - `http(s)`: `-c http.curloptResolve=host:port:addr,…` (curl's pre-filled DNS cache; git ≥ 2.37)
   *   and `-c http.followRedirects=false` (a redirect would name another host, resolved unchecked);
   * - `ssh` and scp-like `user@host:path`: `GIT_SSH_COMMAND` with `-o HostName=<addr>` and
   *   `-o HostKeyAlias=<host>` (the host key is still checked under the name);
   * - `git://` by name: refused (`ERR_VALIDATION`), git's own protocol cannot be pinned; a literal
   *   address needs no pinning.
   * A local remote (`file:`, a path) needs nothing. A name that does not resolve is `ERR_UPSTREAM`.
   *
   * @example
   * ```ts
   * const pin = await egress.pinGit('https://git.example.com/org/repo.git', 'source');
   * spawn('env', [...pin.unsetEnv.flatMap((v) => ['-u', v]), 'git', ...pin.config, 'clone', '--mirror', '--', url, dir]);
   * ```
   */
  async pinGit(url: string, what: string): Promise<GitPin> {
    const host = urlHost(url);
    if (host === undefined) return NO_PIN;
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    const literal = isIP(bare) !== 0;
    let addresses: readonly string[];
    if (literal) addresses = [bare];
    else {
      try {
        addresses = await this.#resolve(bare);
      } catch {
        addresses = [];
      }
      if (addresses.length === 0) throw new KeyturnError('ERR_UPSTREAM', `${what}: ${host} does not resolve`);
    }
    for (const address of addresses) {
      const cls = addressClass(address) ?? 'reserved';
      if (cls !== 'public' && !this.#allow.has(address)) {
        throw new KeyturnError(
          'ERR_VALIDATION',
          `${what}: ${literal ? address : `${host} resolves to ${address}`}, a ${cls} address; keyturn sends nothing to loopback, link-local (metadata), private or reserved addresses unless egressAllow allows the network`,
        );
      }
    }
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase() ?? 'ssh'; // scp-like: ssh
    const noRedirects = ['-c', 'http.followRedirects=false'];
    if (scheme === 'http' || scheme === 'https') {
      if (literal) return { config: noRedirects, unsetEnv: [] };
      const parsed = new URL(url);
      const port = parsed.port === '' ? (scheme === 'https' ? 443 : 80) : Number(parsed.port);
      const list = addresses.map((a) => (isIP(a) === 6 ? `[${a}]` : a)).join(',');
      return { config: ['-c', `http.curloptResolve=${bare}:${port}:${list}`, ...noRedirects], unsetEnv: [] };
    }
    if (scheme === 'ssh') {
      if (literal) return NO_PIN;
      // `bare` and the address are a host name and an IP literal (urlHost's forms): nothing to quote.
      // GIT_SSH_COMMAND and GIT_SSH would override core.sshCommand: git runs without them.
      return { config: ['-c', `core.sshCommand=ssh -o HostName=${addresses[0]!} -o HostKeyAlias=${bare}`], unsetEnv: SSH_OVERRIDES };
    }
    if (literal) return NO_PIN;
    throw new KeyturnError('ERR_VALIDATION', `${what}: ${scheme}:// remotes are resolved by git itself, which keyturn cannot pin to the address it checked; use https or ssh, or a literal address`);
  }

  /** {@link checkHost} for the host of an absolute URL (`http`, `https`, `ssh`, `git`; scp-like `user@host:path` too). */
  async check(url: string, what: string): Promise<void> {
    const host = urlHost(url);
    if (host !== undefined) await this.checkHost(host, what);
  }
}

/**
 * How to run git so that it connects only to the addresses {@link EgressGuard.pinGit} checked:
 * options to put before the git command (`-c name=value` pairs) and variables to add to its
 * environment.
 */
export interface GitPin {
  readonly config: readonly string[];
  /** Environment variables git must run without (they would override `config`). */
  readonly unsetEnv: readonly string[];
}

const NO_PIN: GitPin = Object.freeze({ config: [], unsetEnv: [] });
const SSH_OVERRIDES = Object.freeze(['GIT_SSH_COMMAND', 'GIT_SSH']);

/** The host of a URL or of a scp-like git remote (`git@host:path`); `undefined` for local ones (`file:`, paths). */
export function urlHost(url: string): string | undefined {
  const scp = /^[\w.-]+@([\w.-]+|\[[0-9a-fA-F:.]+\]):(?!\/\/)/.exec(url);
  if (scp) return scp[1]!;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol === 'file:') return undefined;
  return parsed.hostname === '' ? undefined : parsed.hostname;
}
