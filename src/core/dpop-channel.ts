import { createHash, timingSafeEqual } from 'node:crypto';
import type { TlsChannel } from './channel.js';

/**
 * Channel-bound DPoP proofs (keyturn's extension; RFC 9449 §4.2 lets a proof carry more claims).
 *
 * A proof may carry the claim {@link CHANNEL_CLAIM}: the base64url SHA-256 of the RFC 9266
 * `tls-exporter` value (32 bytes, label `EXPORTER-Channel-Binding`, empty context) of the TLS 1.3
 * connection the proof is sent on. keyturn then accepts the proof on that connection only: a
 * captured proof is useless on any other connection, through a TLS-terminating middlebox, or after
 * a reconnect, so such proofs need no cluster-wide `jti` replay state. A proof without the claim is
 * checked as RFC 9449 says; a proof with it sent over plain HTTP or TLS 1.2 is refused.
 *
 * The value is the same digest a TLS-session-bound token carries as `cnf["tls_exporter#S256"]`
 * (`channelExporterDigest` in `./channel.ts`; the policy binding `tls-session` names that member):
 * the proof claim keeps its own, shorter name, since it is a claim of the proof, not a confirmation.
 */
export const CHANNEL_CLAIM = 'tls-exp#S256';

/** The RFC 9266 exporter label and length. */
export const TLS_EXPORTER_LABEL = 'EXPORTER-Channel-Binding';
export const TLS_EXPORTER_LENGTH = 32;

/**
 * The digest a channel-bound proof carries for `exporter` (the connection's RFC 9266 value).
 *
 * @example
 * ```ts
 * const digest = exporterDigest(tlsSocket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0)));
 * ```
 */
export function exporterDigest(exporter: Uint8Array): string {
  return createHash('sha256').update(exporter).digest('base64url');
}

/**
 * The exporter digest of `channel`, or `undefined` when there is none to bind to: plain HTTP, a
 * protocol older than TLS 1.3 (whose exporter is not safe without extended master secret), or a
 * socket that cannot export.
 */
export function channelDigest(channel: TlsChannel | undefined): string | undefined {
  if (channel === undefined || channel.protocol !== 'TLSv1.3') return undefined;
  const exported = channel.exportKeyingMaterial(TLS_EXPORTER_LENGTH, TLS_EXPORTER_LABEL);
  return exported === undefined ? undefined : exporterDigest(exported);
}

/**
 * Checks a proof's {@link CHANNEL_CLAIM} against the digest of the connection it came on:
 * `unbound` when the proof has no such claim, `bound` when it names this connection, `mismatch`
 * when it names another one, is not a string, or the connection has no digest to compare with.
 *
 * @example
 * ```ts
 * checkChannelClaim(proof.claims, channelDigest(request.tls)); // 'unbound' | 'bound' | 'mismatch'
 * ```
 */
export function checkChannelClaim(claims: Readonly<Record<string, unknown>>, connectionDigest: string | undefined): 'unbound' | 'bound' | 'mismatch' {
  if (!Object.hasOwn(claims, CHANNEL_CLAIM)) return 'unbound';
  const claimed = claims[CHANNEL_CLAIM];
  if (typeof claimed !== 'string' || connectionDigest === undefined) return 'mismatch';
  const a = Buffer.from(claimed);
  const b = Buffer.from(connectionDigest);
  return a.length === b.length && timingSafeEqual(a, b) ? 'bound' : 'mismatch';
}
