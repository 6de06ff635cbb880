/**
 * The sender-constraint (binding) capability's public entry: other capability folders import DPoP
 * proof checking from here.
 */
export {
  accessTokenHash,
  checkDpopProof,
  DPOP_ALGORITHMS,
  DPOP_FAILURES,
  DpopNonces,
  normalizeHtu,
  type DpopFailure,
  type DpopPolicy,
  type DpopProof,
  type DpopRefusal,
  type DpopRequest,
} from './dpop.js';
export {
  certificateCnf,
  checkClientCertificate,
  MTLS_FAILURES,
  normalizeDn,
  registeredThumbprints,
  tlsClientAuthSchema,
  type MtlsFailure,
  type TlsClientAuthMetadata,
} from './mtls.js';
export { SESSION_BINDING_PARAM, SESSION_FAILURES, sessionCnf, tlsTokenBinding, type SessionFailure, type TlsBindingRefusal } from './tls-session.js';
export { checkKeyBinding, KEY_BINDING_FAILURES, keyBindingSchema, type KeyBinding, type KeyBindingFailure } from './api-keys.js';
