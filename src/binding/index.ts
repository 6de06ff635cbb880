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
export {
  RELAYED_SESSION_PARAM,
  relayedSessionCnf,
  SESSION_BINDING_PARAM,
  SESSION_FAILURES,
  sessionCnf,
  tlsTokenBinding,
  type SessionFailure,
  type TlsBindingRefusal,
} from './tls-session.js';
export { checkKeyBinding, KEY_BINDING_FAILURES, keyBindingSchema, type KeyBinding, type KeyBindingFailure } from './api-keys.js';
export { CHANNEL_CLAIM, channelDigest, checkChannelClaim, exporterDigest, TLS_EXPORTER_LABEL, TLS_EXPORTER_LENGTH } from './dpop.js';
export { DpopService, type DpopAuditContext, type DpopInput, type DpopRefusalReason, type DpopServiceOptions } from './dpop-service.js';
export { bindingMigrations } from './migrations.js';
