import { createHash } from 'node:crypto';
import type { FailureLog, RequestMeta } from '../audit/index.js';
import type { TlsChannel } from '../core/channel.js';
import type { Context } from '../core/context.js';
import type { DpopReplayStore } from '../core/dpop-replay.js';
import { KeyturnError } from '../core/errors.js';
import type { Store } from '../store/port.js';
import { channelDigest, checkChannelClaim, checkDpopProof, DPOP_ALGORITHMS, DpopNonces, type DpopFailure, type DpopProof } from './dpop.js';

/** Why a proof was refused, as events record it: the §4.3 checks, a replayed `jti`, another TLS connection. */
export type DpopRefusalReason = DpopFailure | 'replay' | 'channel';

/** What a token request offers for DPoP: its `DPoP` header values, method, URI and connection. */
export interface DpopInput {
  readonly proofs: readonly string[];
  readonly method: string;
  /** The request URI as built from the configured public origin (the issuer). */
  readonly url: string;
  readonly tls?: TlsChannel | undefined;
  /** The thumbprint the proof must be signed with (a DPoP-bound refresh token's). */
  readonly boundJkt?: string | undefined;
}

/** Who asked and for what, for the event of a refusal. */
export interface DpopAuditContext {
  /** What the proof was refused for: the DPoP-bound refresh family, else the client (or `null`). */
  readonly target: string | null;
  /** The client, when `target` names its refresh family. */
  readonly client?: string;
  readonly grantType?: string;
  readonly meta: RequestMeta;
}

export interface DpopServiceOptions {
  readonly store: Store;
  readonly ctx: Context;
  readonly failures: FailureLog;
  /** Secret the stateless nonces are HMAC'd with; every node needs the same (32 bytes or more). */
  readonly nonceSecret: Uint8Array;
  /** Whether proofs must carry the server nonce (RFC 9449 §8). */
  readonly requireNonce: boolean;
  /** How long a nonce window lasts (ms; a nonce is accepted in its window and the next). */
  readonly noncePeriodMs?: number;
  /** How old a proof's `iat` may be (seconds). */
  readonly maxAgeSec?: number;
  readonly algorithms?: readonly string[];
  /**
   * Where proof ids are remembered instead of the store's table (e.g. `redisReplayStore` when
   * `dpopReplayStore` is `redis`). It must be shared by every node; when it cannot answer, the
   * proof is refused (its error propagates).
   */
  readonly replay?: DpopReplayStore;
}

const MESSAGES: Record<DpopRefusalReason, string> = {
  missing: 'a DPoP proof is required',
  multiple: 'exactly one DPoP header is allowed',
  malformed: 'DPoP proof is not a well-formed JWT',
  type: 'DPoP proof typ must be dpop+jwt',
  algorithm: 'DPoP proof alg is not an allowed asymmetric algorithm',
  jwk: 'DPoP proof must carry a public jwk',
  signature: 'DPoP proof signature is invalid',
  claims: 'DPoP proof lacks jti, htm, htu or iat',
  htm: 'DPoP proof htm does not match the request method',
  htu: 'DPoP proof htu does not match the request URI',
  iat: 'DPoP proof iat is outside the acceptance window',
  ath: 'DPoP proof ath does not match the access token',
  nonce: 'DPoP proof must carry the server nonce',
  key_mismatch: 'DPoP proof is signed by another key than the one the token is bound to',
  replay: 'DPoP proof was already used',
  channel: 'DPoP proof is bound to another TLS connection',
};

/**
 * DPoP at the token endpoint: the pure §4.3 checks of {@link checkDpopProof}, then the server
 * nonce, the proof's TLS channel claim (see `dpop-channel.ts`) and the `jti` replay store — a
 * table every node shares (or Redis, `options.replay`), so a proof replayed on a second node is refused. A refusal is thrown
 * as `ERR_INVALID_DPOP_PROOF` or `ERR_USE_DPOP_NONCE` (with `details.nonce` for the `DPoP-Nonce`
 * header) and recorded as a `binding.dpop_failed` event through the failure log (bounded).
 *
 * @example
 * ```ts
 * const dpop = new DpopService({ store, ctx, failures, nonceSecret, requireNonce: true });
 * const proof = await dpop.check({ proofs, method: 'POST', url: `${issuer}/oauth/token` }, { target: clientId, meta });
 * // bind the token: cnf = { jkt: proof.jkt }
 * ```
 */
export class DpopService {
  readonly #store: Store;
  readonly #ctx: Context;
  readonly #failures: FailureLog;
  readonly #nonces: DpopNonces;
  readonly #requireNonce: boolean;
  readonly #maxAgeSec: number;
  readonly algorithms: readonly string[];
  readonly #replay: DpopReplayStore | undefined;
  #lastPurge = 0;

  constructor(options: DpopServiceOptions) {
    this.#store = options.store;
    this.#ctx = options.ctx;
    this.#failures = options.failures;
    this.#nonces = new DpopNonces(options.nonceSecret, { now: () => this.#ctx.now().getTime(), ...(options.noncePeriodMs === undefined ? {} : { periodMs: options.noncePeriodMs }) });
    this.#requireNonce = options.requireNonce;
    this.#maxAgeSec = options.maxAgeSec ?? 60;
    this.algorithms = Object.freeze([...(options.algorithms ?? DPOP_ALGORITHMS)].filter((alg) => alg !== 'none' && !/^HS/i.test(alg)));
    this.#replay = options.replay;
  }

  /** The nonce to send in `DPoP-Nonce` now, or `undefined` when nonces are not required. */
  nonce(): string | undefined {
    return this.#requireNonce ? this.#nonces.current() : undefined;
  }

  /** Checks one token request's proof; resolves the accepted proof or throws (and audits) the refusal. */
  async check(input: DpopInput, audit: DpopAuditContext): Promise<DpopProof> {
    const now = this.#ctx.now().getTime();
    const result = await checkDpopProof(
      { proofs: input.proofs, method: input.method, url: input.url, ...(input.boundJkt === undefined ? {} : { boundJkt: input.boundJkt }) },
      {
        now,
        maxAgeSec: this.#maxAgeSec,
        algorithms: this.algorithms,
        ...(this.#requireNonce ? { nonce: (value: string | undefined) => this.#nonces.accepts(value) } : {}),
      },
    );
    if (!result.valid) {
      // The first request of a client has no nonce yet: that is the handshake, not a failure to record.
      const handshake = result.reason === 'nonce' && !hasNonceClaim(input.proofs[0]);
      throw await this.#refuse(result.reason, audit, handshake, undefined);
    }
    const channel = checkChannelClaim(result.claims, channelDigest(input.tls));
    if (channel === 'mismatch') throw await this.#refuse('channel', audit, false, result.jkt);
    // A proof bound to this connection cannot be used on any other: no shared state is needed.
    if (channel === 'unbound' && !(await this.#firstUse(result, now))) throw await this.#refuse('replay', audit, false, result.jkt);
    return result;
  }

  /** Refuses a request that has no proof where one is required (policy, DPoP-bound refresh token). */
  async missing(audit: DpopAuditContext): Promise<never> {
    throw await this.#refuse('missing', audit, false, undefined);
  }

  /** Records the `jti` (per key) until the proof could no longer be accepted; `false` when it was seen before. */
  async #firstUse(proof: DpopProof, now: number): Promise<boolean> {
    const id = createHash('sha256').update(`${proof.jkt}.${proof.jti}`).digest('base64url');
    if (this.#replay !== undefined) return this.#replay.first(id, proof.replayUntil);
    if (now - this.#lastPurge > 60_000) {
      this.#lastPurge = now;
      // Why: ids past their window can never be replayed successfully (iat check); keep the table small.
      await this.#store.run('DELETE FROM binding_dpop_jtis WHERE expires_at < ?', [now]);
    }
    // Why: one conditional insert decides the first use, on whichever node, atomically.
    const { changes } = await this.#store.run('INSERT INTO binding_dpop_jtis (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING', [id, proof.replayUntil]);
    return changes === 1;
  }

  async #refuse(reason: DpopRefusalReason, audit: DpopAuditContext, quiet: boolean, jkt: string | undefined): Promise<KeyturnError> {
    if (!quiet) {
      await this.#failures.record(
        {
          type: 'binding.dpop_failed',
          target: audit.target,
          outcome: 'failure',
          reason,
          data: {
            ...(jkt === undefined ? {} : { jkt }),
            ...(audit.grantType === undefined ? {} : { grantType: audit.grantType.slice(0, 80) }),
            ...(audit.client === undefined ? {} : { client: audit.client }),
          },
        },
        audit.meta,
      );
    }
    const nonce = this.nonce();
    const details = { reason, ...(nonce === undefined ? {} : { nonce }) };
    return reason === 'nonce' ? new KeyturnError('ERR_USE_DPOP_NONCE', 'DPoP proof must carry the nonce of the DPoP-Nonce header', { details }) : new KeyturnError('ERR_INVALID_DPOP_PROOF', MESSAGES[reason], { details });
  }
}

/** Whether the (single) proof names a nonce at all: a stale one is worth an event, none is the handshake. */
function hasNonceClaim(proof: string | undefined): boolean {
  if (proof === undefined) return false;
  try {
    const payload = JSON.parse(Buffer.from(proof.split('.')[1] ?? '', 'base64url').toString('utf8')) as unknown;
    return payload !== null && typeof payload === 'object' && 'nonce' in payload;
  } catch {
    return false;
  }
}
