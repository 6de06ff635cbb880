/**
 * `keyturn/client`: what a service holding a keyturn API key embeds. Like `keyturn/verifier`, it
 * imports no server code (node built-ins and `fetch` only; an architecture test enforces it).
 */
export { createKeyHolder, KeyHolderError, type KeyHolder, type KeyHolderOptions, type KeyPersistence, type RotatedKey } from './holder.js';
export { writeEnvAssignment, writeFileAtomic } from './persist.js';
