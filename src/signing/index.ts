/**
 * The signing capability's public entry: other capability folders import the key ring and the JWS
 * signer from here (the `signing_keys` table is read and written only by `ring.ts`).
 */
export { signJwt } from './jws.js';
export {
  SIGNING_ALGS,
  SIGNING_CHANNEL,
  SigningKeyRing,
  type SigningAlg,
  type SigningKey,
  type SigningKeyRingOptions,
  type SigningKeyStatus,
  type SigningKeyView,
} from './ring.js';
