import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BASE62_ALPHABET, encodeBase62 } from '../../src/core/base62.js';
import { systemContext } from '../../src/core/context.js';
import { KeyturnError } from '../../src/core/errors.js';
import {
  BODY_LENGTH,
  CHECK_LENGTH,
  digestsEqual,
  generateSecret,
  parseSecret,
  secretChecksum,
  secretDigest,
  secretDisplay,
  tryParseSecret,
} from '../../src/core/secret.js';

const prefixArb = fc.stringMatching(/^[a-z][a-z0-9]{0,6}(_[a-z0-9]{1,6}){0,3}$/);
const bytesCtx = (bytes: Uint8Array) => ({ random: (n: number) => bytes.slice(0, n) });

describe('secret format', () => {
  it('matches the documented layout exactly', () => {
    const secret = generateSecret('kt_live', systemContext);
    expect(secret).toMatch(/^kt_live_[0-9A-Za-z]{49}$/);
    const head = secret.slice(0, -CHECK_LENGTH);
    const expected = crc32(head).toString(); // decimal, converted below independently
    let n = Number(expected);
    let check = '';
    for (let i = 0; i < CHECK_LENGTH; i++) {
      check = BASE62_ALPHABET[n % 62] + check;
      n = Math.floor(n / 62);
    }
    expect(secret.slice(-CHECK_LENGTH)).toBe(check);
  });

  it('encodes 256 bits big-endian into 43 characters, zero-padded', () => {
    expect(generateSecret('kt', bytesCtx(new Uint8Array(32)))).toBe(`kt_${'0'.repeat(43)}${secretChecksum(`kt_${'0'.repeat(43)}`)}`);
    const max = generateSecret('kt', bytesCtx(new Uint8Array(32).fill(255)));
    expect(max.slice(3, 3 + BODY_LENGTH)).toBe(encodeBase62(2n ** 256n - 1n, 43));
    expect(encodeBase62(61, 2)).toBe('0z');
    expect(encodeBase62(62, 2)).toBe('10');
  });

  it('round-trips for any prefix and any 32 random bytes', () => {
    fc.assert(
      fc.property(prefixArb, fc.uint8Array({ minLength: 32, maxLength: 32 }), (prefix, bytes) => {
        const secret = generateSecret(prefix, bytesCtx(bytes));
        const parsed = parseSecret(secret);
        expect(parsed.prefix).toBe(prefix);
        expect(parsed.body).toHaveLength(BODY_LENGTH);
        expect(parsed.text).toBe(secret);
      }),
    );
  });

  it('rejects any single changed character', () => {
    fc.assert(
      fc.property(
        prefixArb,
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.nat(),
        fc.constantFrom(...BASE62_ALPHABET.split(''), '_', '-', 'é'),
        (prefix, bytes, at, replacement) => {
          const secret = generateSecret(prefix, bytesCtx(bytes));
          const i = at % secret.length;
          fc.pre(secret[i] !== replacement);
          const changed = secret.slice(0, i) + replacement + secret.slice(i + 1);
          expect(tryParseSecret(changed)).toBeUndefined();
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('tells a checksum error from a shape error, without echoing the input', () => {
    const secret = generateSecret('kt_live', systemContext);
    const last = secret.at(-1) === 'A' ? 'B' : 'A';
    const bad = secret.slice(0, -1) + last;
    expect(() => parseSecret(bad)).toThrowError(expect.objectContaining({ code: 'ERR_SECRET_CHECKSUM' }));
    try {
      parseSecret(bad);
    } catch (err) {
      expect(err).toBeInstanceOf(KeyturnError);
      expect((err as Error).message).not.toContain(bad.slice(8, 20));
    }
    for (const junk of ['', 'kt_live_', 'Kt_live_' + secret.slice(8), 'x'.repeat(10_000), '_' + secret]) {
      expect(() => parseSecret(junk)).toThrowError(expect.objectContaining({ code: 'ERR_SECRET_FORMAT' }));
    }
  });

  it('rejects invalid prefixes at generation', () => {
    for (const prefix of ['', 'Kt', '1kt', 'kt_', 'kt__live', 'kt-live', 'a'.repeat(41)]) {
      expect(() => generateSecret(prefix, systemContext)).toThrowError(expect.objectContaining({ code: 'ERR_PREFIX_INVALID' }));
    }
  });

  it('digests, compares and displays without exposing the body', () => {
    const secret = generateSecret('kt_live', systemContext);
    const digest = secretDigest(secret);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(digestsEqual(digest, secretDigest(secret))).toBe(true);
    expect(digestsEqual(digest, secretDigest(secret + 'x'))).toBe(false);
    expect(digestsEqual(digest, 'short')).toBe(false);
    const shown = secretDisplay(parseSecret(secret));
    expect(shown.start).toBe(secret.slice(0, 12));
    expect(shown.last4).toBe(secret.slice(-4));
  });
});
