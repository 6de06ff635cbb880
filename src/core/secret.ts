import { hash, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { encodeBase62, encodeBase62Bytes, isBase62 } from './base62.js';
import type { Context } from './context.js';
import { KeyturnError } from './errors.js';

/**
 * The opaque secret format every keyturn secret (API key, refresh token, client secret)
 * follows, exactly:
 *
 * `<prefix>_<body><check>` where
 * - `prefix` matches {@link PREFIX_PATTERN} (e.g. `kt_live`),
 * - `body` is {@link BODY_LENGTH} base62 characters carrying 256 random bits,
 * - `check` is {@link CHECK_LENGTH} base62 characters: the CRC-32 (as `zlib.crc32`) of the UTF-8
 *   string `<prefix>_<body>`, most significant digit first, left-padded with `0`.
 *
 * Base62 alphabet: `0-9A-Za-z`. The checksum lets a scanner confirm a keyturn secret offline.
 */
export const PREFIX_PATTERN = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;
export const BODY_LENGTH = 43;
export const CHECK_LENGTH = 6;
export const RANDOM_BYTES = 32;
/** Longest prefix accepted; bounds every input that reaches the parser. */
export const MAX_PREFIX_LENGTH = 40;
export const MAX_SECRET_LENGTH = MAX_PREFIX_LENGTH + 1 + BODY_LENGTH + CHECK_LENGTH;

/** A secret split into its parts. `text` is the whole secret: treat it as sensitive. */
export interface ParsedSecret {
  readonly prefix: string;
  readonly body: string;
  readonly check: string;
  readonly text: string;
}

/** Throws `ERR_PREFIX_INVALID` unless `prefix` is a valid secret prefix. */
export function assertPrefix(prefix: string): void {
  if (prefix.length === 0 || prefix.length > MAX_PREFIX_LENGTH || !PREFIX_PATTERN.test(prefix)) {
    throw new KeyturnError(
      'ERR_PREFIX_INVALID',
      `secret prefix must match ${PREFIX_PATTERN.source} and be at most ${MAX_PREFIX_LENGTH} characters`,
    );
  }
}

/** The 6-character check of `<prefix>_<body>`. */
export function secretChecksum(prefixAndBody: string): string {
  return encodeBase62(crc32(prefixAndBody), CHECK_LENGTH);
}

/**
 * Creates a new secret with 256 bits from `ctx.random`.
 *
 * @example
 * ```ts
 * const secret = generateSecret('kt_live', systemContext); // kt_live_3hG…
 * ```
 */
export function generateSecret(prefix: string, ctx: Pick<Context, 'random'>): string {
  assertPrefix(prefix);
  const body = encodeBase62Bytes(ctx.random(RANDOM_BYTES), BODY_LENGTH);
  const head = `${prefix}_${body}`;
  return head + secretChecksum(head);
}

/**
 * Splits a secret into its parts when its shape and checksum are right, else `undefined`.
 * Never throws and never echoes the input: safe on the hot path and on untrusted text.
 */
export function tryParseSecret(text: string): ParsedSecret | undefined {
  const tail = BODY_LENGTH + CHECK_LENGTH;
  if (typeof text !== 'string' || text.length > MAX_SECRET_LENGTH || text.length < tail + 2) return undefined;
  const sep = text.length - tail - 1;
  if (text.charCodeAt(sep) !== 0x5f /* _ */) return undefined;
  const prefix = text.slice(0, sep);
  if (!PREFIX_PATTERN.test(prefix)) return undefined;
  const body = text.slice(sep + 1, sep + 1 + BODY_LENGTH);
  const check = text.slice(sep + 1 + BODY_LENGTH);
  if (!isBase62(body) || !isBase62(check)) return undefined;
  if (secretChecksum(text.slice(0, sep + 1 + BODY_LENGTH)) !== check) return undefined;
  return { prefix, body, check, text };
}

/**
 * Like {@link tryParseSecret} but throws `ERR_SECRET_FORMAT` or `ERR_SECRET_CHECKSUM`
 * (without the secret in the message).
 */
export function parseSecret(text: string): ParsedSecret {
  const parsed = tryParseSecret(text);
  if (parsed) return parsed;
  const shape = new RegExp(`^[a-z][a-z0-9]*(?:_[a-z0-9]+)*_[0-9A-Za-z]{${BODY_LENGTH + CHECK_LENGTH}}$`);
  if (typeof text === 'string' && text.length <= MAX_SECRET_LENGTH && shape.test(text)) {
    throw new KeyturnError('ERR_SECRET_CHECKSUM', 'secret checksum does not match');
  }
  throw new KeyturnError('ERR_SECRET_FORMAT', 'not a keyturn secret: expected <prefix>_<43 base62><6 base62 check>');
}

/** SHA-256 of the secret's UTF-8 bytes, hex: the only form in which a secret is stored. */
export function secretDigest(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** Constant-time equality of two hex digests (or any two strings of equal length). */
export function digestsEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** What may be shown about a secret after creation: its prefix, first 4 body characters and last 4. */
export function secretDisplay(parsed: ParsedSecret): { start: string; last4: string } {
  return { start: `${parsed.prefix}_${parsed.body.slice(0, 4)}`, last4: parsed.text.slice(-4) };
}
