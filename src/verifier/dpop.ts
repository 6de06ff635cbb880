import { createHash } from 'node:crypto';
import { CHANNEL_CLAIM, checkChannelClaim } from '../core/dpop-channel.js';
import { checkDpopProof, DPOP_ALGORITHMS, DpopNonces, type DpopFailure } from '../core/dpop.js';
import { channelExporterDigest, requestConnection, socketChannel } from '../core/channel.js';
import { KeyturnError } from '../core/errors.js';
import { readBearer } from '../core/bearer.js';
import type { DpopReplayStore } from '../core/dpop-replay.js';

export { redisReplayStore, type DpopReplayStore, type RedisReplayOptions, type RedisSetNx } from '../core/dpop-replay.js';

/**
 * The default {@link DpopReplayStore}: ids in memory until they expire, at most `maxEntries`. A full
 * store refuses further proofs (fails closed) rather than forget an id still in its window.
 */
export class MemoryReplayStore implements DpopReplayStore {
  readonly #seen = new Map<string, number>();
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: { maxEntries?: number; now?: () => number } = {}) {
    this.#max = options.maxEntries ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#seen.size;
  }

  first(id: string, untilMs: number): boolean {
    const now = this.#now();
    const until = this.#seen.get(id);
    if (until !== undefined && until > now) return false;
    if (this.#seen.size >= this.#max) {
      // Insertion order is roughly expiry order: drop the expired from the front.
      for (const [key, expiry] of this.#seen) {
        if (expiry > now) break;
        this.#seen.delete(key);
      }
      if (this.#seen.size >= this.#max) return false;
    }
    this.#seen.set(id, untilMs);
    return true;
  }
}

/**
 * DPoP at a resource server embedding the verifier (RFC 9449 §7).
 *
 * @example
 * ```ts
 * createVerifier({ url, audience: 'https://api.example', dpop: { publicOrigin: 'https://api.example' } });
 * ```
 */
export interface VerifierDpopOptions {
  /**
   * This API's public origin (`https://api.example`), from which `htu` is built with the request's
   * path. Set it behind a proxy or load balancer. Default: the request's `Host` header, with `https`
   * when the request came over TLS (a client can choose its `Host`: prefer the configured origin).
   */
  readonly publicOrigin?: string;
  /** How old a proof's `iat` may be, in seconds (default 60). */
  readonly maxAgeSec?: number;
  /** Accepted proof algorithms (default every asymmetric one keyturn accepts); `none` and `HS*` are always refused. */
  readonly algorithms?: readonly string[];
  /**
   * Require server nonces (RFC 9449 §9) made with this secret (32+ bytes): share keyturn's
   * `dpopNonceSecret` to accept the nonces it hands out, or use one of the API's own. Default: none.
   */
  readonly nonceSecret?: Uint8Array;
  /** Where proof ids are remembered (default: a {@link MemoryReplayStore} of this process). */
  readonly replay?: DpopReplayStore;
}

/** What the verifier reads of a request (node's `IncomingMessage` fits). */
export interface VerifiableRequest {
  readonly method?: string | undefined;
  /** Path and query, as node gives them. */
  readonly url?: string | undefined;
  /** Express's path before mounting stripped its prefix (`app.use('/api', …)`): preferred to `url` for `htu`. */
  readonly originalUrl?: string | undefined;
  readonly headers: {
    readonly authorization?: string | undefined;
    readonly dpop?: string | readonly string[] | undefined;
    readonly host?: string | undefined;
    /** HTTP/2's `Host` (RFC 9113 §8.3.1), used for `htu` when there is no `host`. */
    readonly ':authority'?: string | undefined;
  };
  /** The connection (a `net.Socket` or `tls.TLSSocket`): TLS or not, and its RFC 9266 exporter. */
  readonly socket?: object | null | undefined;
  /** node:http2's stream (`Http2ServerRequest`): its session's socket stands for the connection. */
  readonly stream?: unknown;
}

/** An `Authorization` header read as RFC 6750 `Bearer` or RFC 9449 `DPoP`. */
export type AuthorizationCredentials = { readonly kind: 'none' } | { readonly kind: 'malformed' } | { readonly kind: 'token'; readonly scheme: 'bearer' | 'dpop'; readonly token: string };

/**
 * Reads `Authorization: Bearer <token>` or `Authorization: DPoP <token>` (the scheme is case-insensitive).
 *
 * @example
 * ```ts
 * readAuthorization('DPoP eyJ…'); // { kind: 'token', scheme: 'dpop', token: 'eyJ…' }
 * ```
 */
export function readAuthorization(header: string | undefined): AuthorizationCredentials {
  if (typeof header === 'string' && /^\s*dpop(\s|$)/i.test(header)) {
    // The same token grammar (RFC 6750 b64token) as Bearer: parse it as one.
    const read = readBearer(`Bearer${header.trim().slice(4)}`);
    return read.kind === 'token' ? { kind: 'token', scheme: 'dpop', token: read.token } : { kind: 'malformed' };
  }
  const read = readBearer(header);
  return read.kind === 'token' ? { kind: 'token', scheme: 'bearer', token: read.token } : read;
}

/** Why a DPoP request was refused: the §4.3 checks, a replay, another TLS connection. */
export type DpopRequestReason = DpopFailure | 'replay' | 'channel';

/** A refused proof at a resource: the RFC 9449 error, the reason, and the nonce to retry with. */
export interface DpopRequestFailure {
  readonly valid: false;
  readonly code: 'ERR_INVALID_DPOP_PROOF' | 'ERR_USE_DPOP_NONCE';
  readonly dpopReason: DpopRequestReason;
  /** With `ERR_USE_DPOP_NONCE` (and any refusal when nonces are on): the `DPoP-Nonce` to send. */
  readonly nonce?: string;
}

/**
 * Checks the proof of a DPoP-bound access token at a resource: the §4.3 checks against the request
 * (method, `htu` from the public origin or `Host`), `ath` of the token, the token's `cnf.jkt`, the
 * nonce when required, a channel claim against the request's own TLS connection, and replay.
 */
export class ResourceDpop {
  readonly algorithms: readonly string[];
  readonly #origin: string | undefined;
  readonly #maxAgeSec: number;
  readonly #nonces: DpopNonces | undefined;
  readonly #replay: DpopReplayStore;
  readonly #now: () => number;

  constructor(options: VerifierDpopOptions, now: () => number) {
    this.algorithms = Object.freeze([...(options.algorithms ?? DPOP_ALGORITHMS)].filter((alg) => alg.toLowerCase() !== 'none' && !/^HS/i.test(alg)));
    if (this.algorithms.length === 0) throw new KeyturnError('ERR_CONFIG', 'verifier dpop.algorithms: at least one asymmetric algorithm');
    if (options.publicOrigin !== undefined) {
      let url: URL;
      try {
        url = new URL(options.publicOrigin);
      } catch {
        throw new KeyturnError('ERR_CONFIG', 'verifier dpop.publicOrigin: not a URL');
      }
      if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.search || url.hash) {
        throw new KeyturnError('ERR_CONFIG', 'verifier dpop.publicOrigin: an http(s) origin, with an optional path prefix');
      }
      this.#origin = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    }
    this.#maxAgeSec = options.maxAgeSec ?? 60;
    this.#now = now;
    this.#nonces = options.nonceSecret === undefined ? undefined : new DpopNonces(options.nonceSecret, { now });
    this.#replay = options.replay ?? new MemoryReplayStore({ now });
  }

  /** The nonce to hand out now, when nonces are required. */
  nonce(): string | undefined {
    return this.#nonces?.current();
  }

  /** The `htu` of `req`: its path under the public origin (or `Host`), `undefined` when it has none. */
  htu(req: VerifiableRequest): string | undefined {
    const path = req.originalUrl ?? req.url ?? '/';
    if (!path.startsWith('/')) return undefined;
    if (this.#origin !== undefined) return `${this.#origin}${path}`;
    const host = req.headers.host ?? req.headers[':authority'];
    if (typeof host !== 'string' || host.length === 0 || /[\s/\\@?#]/.test(host)) return undefined;
    return `${socketChannel(requestConnection(req) ?? {}) !== undefined ? 'https' : 'http'}://${host}${path}`;
  }

  /** Checks the proof of `req` for the access token `token`, bound to `jkt`. */
  async check(req: VerifiableRequest, token: string, jkt: string): Promise<DpopRequestFailure | undefined> {
    const header = req.headers.dpop;
    const proofs = header === undefined ? [] : (typeof header === 'string' ? [header] : [...header]).flatMap((v) => v.split(',')).map((v) => v.trim());
    const url = this.htu(req) ?? 'about:invalid';
    const nonces = this.#nonces;
    const result = await checkDpopProof(
      { proofs, method: req.method ?? 'GET', url, accessToken: token, boundJkt: jkt },
      { now: this.#now(), maxAgeSec: this.#maxAgeSec, algorithms: this.algorithms, ...(nonces === undefined ? {} : { nonce: (n: string | undefined) => nonces.accepts(n) }) },
    );
    if (!result.valid) return this.#fail(result.reason, result.error === 'use_dpop_nonce');
    if (Object.hasOwn(result.claims, CHANNEL_CLAIM)) {
      // A channel-bound proof: valid on the connection it names only, and then needs no replay state.
      const connection = requestConnection(req);
      const digest = connection === undefined || connection === null ? undefined : channelExporterDigest(socketChannel(connection));
      if (checkChannelClaim(result.claims, digest) !== 'bound') return this.#fail('channel', false);
      return undefined;
    }
    const id = createHash('sha256').update(`${result.jkt}.${result.jti}`).digest('base64url');
    let first: boolean;
    try {
      first = await this.#replay.first(id, result.replayUntil);
    } catch (cause) {
      // Fail closed: without the store's answer the proof may be a replay. An outage, as the verifier reports them.
      throw new KeyturnError('ERR_UPSTREAM', 'the DPoP replay store is unavailable', { cause });
    }
    if (!first) return this.#fail('replay', false);
    return undefined;
  }

  #fail(reason: DpopRequestReason, nonce: boolean): DpopRequestFailure {
    const value = this.nonce();
    return Object.freeze({ valid: false, code: nonce ? 'ERR_USE_DPOP_NONCE' : 'ERR_INVALID_DPOP_PROOF', dpopReason: reason, ...(value === undefined ? {} : { nonce: value }) });
  }
}
