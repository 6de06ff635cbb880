import { timingSafeEqual } from 'node:crypto';
import { channelExporterDigest, channelThumbprint, CNF_TLS_EXPORTER, CNF_X5T, requestConnection, socketChannel, type ConnectionOfRequest, type TlsChannel } from '../core/channel.js';
import { NetworkList } from '../core/network.js';
import type { TokenConfirmation, TokenFailureReason } from './types.js';

/**
 * What the connection a credential arrived on can prove: its TLS channel (client certificate,
 * exporter). Built by {@link presentationOf} from a request's socket; `undefined` members mean
 * plain HTTP.
 */
export interface Presentation {
  readonly tls?: TlsChannel | undefined;
  /** The peer address the request came from (behind a proxy: the client address the proxy vouches for). */
  readonly address?: string | undefined;
}

/**
 * The {@link Presentation} of a node request (node `IncomingMessage`, express, fastify's
 * `request.raw`, node:http2's `Http2ServerRequest`): its connection's TLS channel and peer address.
 * On HTTP/2 the connection is the stream's session (`req.stream.session.socket`), so every stream
 * of one session presents the same channel.
 */
export function presentationOf(req: ConnectionOfRequest): Presentation | undefined {
  const socket = requestConnection(req) as { remoteAddress?: string } | null | undefined;
  if (socket === undefined || socket === null) return undefined;
  const tls = socketChannel(socket);
  let address: string | undefined;
  try {
    address = socket.remoteAddress;
  } catch {
    // node:http2's proxy of a session whose socket is gone.
    address = undefined;
  }
  return { ...(tls === undefined ? {} : { tls }), ...(address === undefined ? {} : { address }) };
}

const networkLists = new WeakMap<readonly string[], NetworkList>();

/**
 * Whether an API key bound to `binding` may be used from `presentation` (its source address in
 * one of the networks, its connection's client certificate the bound one). Fails closed: a bound
 * key without a presentation is refused.
 */
export function keyBindingHolds(binding: { readonly networks?: readonly string[]; readonly 'x5t#S256'?: string }, presentation: Presentation | undefined): boolean {
  if (binding.networks !== undefined) {
    const address = presentation?.address;
    if (address === undefined) return false;
    let list = networkLists.get(binding.networks);
    if (list === undefined) networkLists.set(binding.networks, (list = new NetworkList(binding.networks)));
    if (!list.has(address)) return false;
  }
  const x5t = binding['x5t#S256'];
  if (x5t !== undefined) {
    const seen = channelThumbprint(presentation?.tls);
    if (seen === undefined || !same(seen, x5t)) return false;
  }
  return true;
}

/** `cnf` members this verifier checks from the connection (fail closed on every other). */
export const TLS_CNF_MEMBERS: readonly string[] = [CNF_X5T, CNF_TLS_EXPORTER];

function same(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/**
 * Checks the TLS members of a token's `cnf` against the connection it was presented on:
 * `x5t#S256` (RFC 8705 §3: the client certificate's thumbprint) and `tls_exporter#S256` (the
 * SHA-256 of the RFC 9266 exporter value of the TLS 1.3 connection the token was issued on).
 * Members named in `handled` are skipped: another step checks them (DPoP's `jkt`, against the
 * request's proof). Returns `undefined` when every member holds, else why not: `bound` for a DPoP
 * `jkt` not in `handled` (a DPoP-bound token whose proof nobody checks), `cnf` when `cnf` is not an
 * object, is empty or has a member neither this function nor `handled` knows (fail closed),
 * `certificate` for a missing or other certificate, `tls_session` for another connection, a
 * reconnect, a proxy in between or a plain-HTTP presentation.
 *
 * @example
 * ```ts
 * const r = checkTlsConfirmation(payload.cnf, presentationOf(req)?.tls);
 * if (r !== undefined) refuse(r);
 * ```
 */
export function checkTlsConfirmation(cnf: unknown, tls: TlsChannel | undefined, handled: readonly string[] = []): TokenFailureReason | undefined {
  if (cnf === null || typeof cnf !== 'object' || Array.isArray(cnf)) return 'cnf';
  const members = Object.entries(cnf as Record<string, unknown>);
  if (members.length === 0) return 'cnf';
  if (Object.hasOwn(cnf, 'jkt') && !handled.includes('jkt')) return 'bound';
  for (const [name, value] of members) {
    if (handled.includes(name)) continue;
    if (typeof value !== 'string') return 'cnf';
    if (name === CNF_X5T) {
      const seen = channelThumbprint(tls);
      if (seen === undefined || !same(seen, value)) return 'certificate';
    } else if (name === CNF_TLS_EXPORTER) {
      const seen = channelExporterDigest(tls);
      if (seen === undefined || !same(seen, value)) return 'tls_session';
    } else return 'cnf';
  }
  return undefined;
}

const DPOP_HANDLED: readonly string[] = ['jkt'];

/**
 * Checks a token's (already read) confirmation as far as the presentation allows: a DPoP `jkt`
 * needs the `DPoP` scheme (`viaDpop`; the proof itself is then checked by the caller, else `bound`),
 * TLS members are checked against the connection (`certificate`, `tls_session`). A token bound both
 * ways (a DPoP key and a certificate) needs both.
 */
export function checkConfirmation(cnf: TokenConfirmation, presentation: Presentation | undefined, viaDpop: boolean): TokenFailureReason | undefined {
  if (cnf.jkt !== undefined && !viaDpop) return 'bound';
  if (cnf.jkt !== undefined && cnf[CNF_X5T] === undefined && cnf[CNF_TLS_EXPORTER] === undefined) return undefined;
  return checkTlsConfirmation(cnf, presentation?.tls, DPOP_HANDLED);
}
