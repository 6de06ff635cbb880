/**
 * `keyturn/client`: what a service holding a keyturn credential embeds — the self-rotating API key
 * holder and the TLS-session-bound token client. Like `keyturn/verifier`, it imports no server
 * code (node built-ins and `fetch` only; an architecture test enforces it).
 */
export { createKeyHolder, KeyHolderError, type KeyHolder, type KeyHolderOptions, type KeyPersistence, type RotatedKey } from './holder.js';
export { writeEnvAssignment, writeFileAtomic } from './persist.js';
export { exporterDigestOf, SessionClient, SessionTokenError, type SessionClientOptions, type SessionResponse } from './session.js';
