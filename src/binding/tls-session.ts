import { certificateCnf } from './mtls.js';
import { channelExporterDigest, CNF_TLS_EXPORTER, type TlsChannel } from '../core/channel.js';

/**
 * TLS-session-bound tokens: the token's `cnf` carries the SHA-256 of the RFC 9266 `tls-exporter`
 * value of the TLS 1.3 connection it was issued on, so it verifies on that connection only.
 * The client sends the digest of the exporter value it sees (form parameter
 * {@link SESSION_BINDING_PARAM}); a TLS-terminating middlebox makes the two ends see different
 * values, and the request is refused rather than bound to the middlebox's connection.
 */

/** Form parameter (token endpoint) carrying the client's own exporter digest; asks for a session-bound token. */
export const SESSION_BINDING_PARAM = 'tls_exporter';

/**
 * Form parameter (token exchange, RFC 8693) with which an API server's session endpoint relays the
 * exporter digest of ITS TLS 1.3 connection to the holder (`keyturn/verifier`'s
 * `createSessionEndpoint`): the exchanged token is bound to that connection, not to the API
 * server's own connection to keyturn. Only a client registered as resource server of the token's
 * audience may relay one (it vouches for a connection only it can see, to itself).
 */
export const RELAYED_SESSION_PARAM = 'holder_tls_exporter';

/** Why a session binding was refused (recorded in `binding.tls_failed` events). */
export const SESSION_FAILURES = [
  'not_tls',
  'tls_version',
  'middlebox',
  'other_tls_session',
  'missing_binding',
  'malformed_exporter',
  'not_exchange',
  'not_resource_server',
  'bound_subject',
  'relayed_dpop',
] as const;
export type SessionFailure = (typeof SESSION_FAILURES)[number];

/**
 * The `cnf` binding a token to `channel`, given the digest the client computed on its side; or
 * why not: no TLS (`not_tls`), not TLS 1.3 (`tls_version`, RFC 9266 defines `tls-exporter` for
 * TLS 1.3 only), or a different value (`middlebox`: something terminated TLS between the two).
 */
export function sessionCnf(channel: TlsChannel | undefined, clientDigest: string): { cnf: Record<string, string> } | { failure: SessionFailure } {
  if (channel === undefined) return { failure: 'not_tls' };
  if (channel.protocol !== 'TLSv1.3') return { failure: 'tls_version' };
  const ours = channelExporterDigest(channel);
  if (ours === undefined) return { failure: 'tls_version' };
  if (clientDigest !== ours) return { failure: 'middlebox' };
  return { cnf: { [CNF_TLS_EXPORTER]: ours } };
}

/** A digest as a `tls_exporter#S256` value: base64url SHA-256, 43 characters. */
const DIGEST = /^[A-Za-z0-9_-]{43}$/;

/**
 * The `cnf` of a token bound to a connection the caller relays (see {@link RELAYED_SESSION_PARAM}),
 * or `malformed_exporter`. Who may relay, and for which subject, is the token endpoint's to decide.
 */
export function relayedSessionCnf(digest: string, form: Readonly<Record<string, string>>): { cnf: Record<string, string> } | { failure: SessionFailure } {
  // The caller's own connection is not the one bound: both at once is a confused request.
  if (!DIGEST.test(digest) || form[SESSION_BINDING_PARAM] !== undefined) return { failure: 'malformed_exporter' };
  return { cnf: { [CNF_TLS_EXPORTER]: digest } };
}

/** A TLS binding refused at the token endpoint: which kind and why. */
export interface TlsBindingRefusal {
  readonly kind: 'mtls' | 'tls-session';
  readonly failure: string;
}

/**
 * The TLS part of a token's `cnf` at the token endpoint: `x5t#S256` when the client's tokens are
 * certificate-bound (RFC 8705 §3; a certificate is then required), the session digest when the
 * request carries {@link SESSION_BINDING_PARAM}; `undefined` when neither applies.
 */
export function tlsTokenBinding(
  channel: TlsChannel | undefined,
  form: Readonly<Record<string, string>>,
  certificateBound: boolean,
): { cnf: Record<string, string> } | { refusal: TlsBindingRefusal } | undefined {
  const cnf: Record<string, string> = {};
  if (certificateBound) {
    const x5t = certificateCnf(channel);
    if (x5t === undefined) return { refusal: { kind: 'mtls', failure: 'missing_certificate' } };
    Object.assign(cnf, x5t);
  }
  const claimed = form[SESSION_BINDING_PARAM];
  if (claimed !== undefined) {
    const session = sessionCnf(channel, claimed);
    if ('failure' in session) return { refusal: { kind: 'tls-session', failure: session.failure } };
    Object.assign(cnf, session.cnf);
  }
  return Object.keys(cnf).length === 0 ? undefined : { cnf };
}
