import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { Context } from '../core/context.js';
import { KeyturnError } from '../core/errors.js';

/**
 * Envelope encryption of signing keys at rest: AES-256-GCM under the key-encryption key (KEK)
 * from configuration, a fresh 96-bit IV per value, and the key id as associated data so a
 * ciphertext cannot be moved to another row. Format: `v1.<iv>.<ciphertext>.<tag>` (base64url).
 */
export class KeyEncryption {
  readonly #kek: Buffer;
  readonly #ctx: Pick<Context, 'random'>;

  constructor(kek: Uint8Array, ctx: Pick<Context, 'random'>) {
    if (kek.length !== 32) throw new KeyturnError('ERR_CONFIG', 'the master key must be 32 bytes');
    this.#kek = Buffer.from(kek);
    this.#ctx = ctx;
  }

  seal(plaintext: string, associated: string): string {
    const iv = Buffer.from(this.#ctx.random(12));
    const cipher = createCipheriv('aes-256-gcm', this.#kek, iv);
    cipher.setAAD(Buffer.from(associated, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  open(sealed: string, associated: string): string {
    const [version, iv, body, tag] = sealed.split('.');
    if (version !== 'v1' || !iv || body === undefined || !tag) throw new KeyturnError('ERR_CONFIG', 'unrecognised encrypted key format');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#kek, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(associated, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new KeyturnError('ERR_CONFIG', 'cannot decrypt a signing key: the master key does not match the one it was stored with');
    }
  }
}

/** Parses a 32-byte key given as 64 hex characters or 43 base64url characters. */
export function parseMasterKey(text: string): Uint8Array {
  const value = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9_-]{43}=?$/.test(value)) return Buffer.from(value.replace(/=$/, ''), 'base64url');
  throw new KeyturnError('ERR_CONFIG', 'master key: expected 32 bytes as 64 hex or 43 base64url characters');
}
