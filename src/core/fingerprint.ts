import { createHmac, hkdfSync } from 'node:crypto';
import { secretDigest, tryParseSecret } from './secret.js';

/**
 * Fingerprints of found secrets: what stands for a secret in scan output, baselines and the
 * server's `leak_findings`, so that the same secret is recognised wherever it is seen again.
 *
 * A plain SHA-256 of a weak secret gives it away: anyone holding the fingerprint of
 * `Summer2024!` finds it with a dictionary in a blink. So a fingerprint is an HMAC-SHA256 under a
 * key the holder of the output does not have — a per-deployment key on the server, a key in the
 * baseline file for local scans — except for keyturn's own secrets (checksum-confirmed, 256
 * random bits): theirs stays the plain SHA-256, equal to the digest keyturn stores, so a leaked
 * one is looked up by it; 256 random bits are not found by guessing.
 */

/** Bytes of a fingerprint key. */
export const FINGERPRINT_KEY_BYTES = 32;
/** A fingerprint: 64 lower-case hex digits, whichever way it was made. */
export const FINGERPRINT_PATTERN = /^[0-9a-f]{64}$/;

/** `key` as bytes: a hex string (64 digits) or the bytes themselves. */
function keyBytes(key: string | Uint8Array): Uint8Array {
  return typeof key === 'string' ? Buffer.from(key, 'hex') : key;
}

/**
 * The fingerprint of a found secret: SHA-256 (hex) for a keyturn secret — its stored digest —
 * and HMAC-SHA256 (hex) under `key` for anything else.
 *
 * @example
 * ```ts
 * fingerprintSecret('Summer2024!', key); // HMAC: useless without `key`
 * fingerprintSecret(apiKey, key) === secretDigest(apiKey); // true: keyturn's own, looked up by digest
 * ```
 */
export function fingerprintSecret(secret: string, key: string | Uint8Array): string {
  if (tryParseSecret(secret)) return secretDigest(secret);
  return createHmac('sha256', keyBytes(key)).update(secret, 'utf8').digest('hex');
}

/**
 * A fingerprint someone else made, keyed again under `key` (HMAC-SHA256 of its hex): what the
 * server stores for a reported non-keyturn finding, so its table never holds a fingerprint a
 * dictionary can reverse — even one a client made with plain SHA-256.
 */
export function rekeyFingerprint(fingerprint: string, key: string | Uint8Array): string {
  return createHmac('sha256', keyBytes(key)).update(`keyturn-fingerprint:${fingerprint}`, 'utf8').digest('hex');
}

/** A key for one purpose, derived from key material (HKDF-SHA256, RFC 5869) with `label` as info. */
export function deriveKey(material: Uint8Array, label: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', material, new Uint8Array(0), `keyturn/${label}`, FINGERPRINT_KEY_BYTES));
}

/** The scheme prefix of a credential fingerprint in events. */
export const CREDENTIAL_FINGERPRINT_PREFIX = 'hmac-sha256:';

/**
 * How an event names a credential's secret besides its id: `hmac-sha256:<hex>` of the secret
 * under the deployment's event salt (derived from the master key). Someone holding a leaked token
 * and the salt finds its events; the events alone reveal nothing about the secret, not even its
 * plain digest (which is what keyturn looks secrets up by).
 *
 * @example
 * ```ts
 * credentialFingerprint(secret, salt); // 'hmac-sha256:5f1c…'
 * ```
 */
export function credentialFingerprint(secret: string, salt: Uint8Array): string {
  return `${CREDENTIAL_FINGERPRINT_PREFIX}${createHmac('sha256', salt).update(secret, 'utf8').digest('hex')}`;
}
