import type { RuleSpec } from '../types.js';

/**
 * npm access tokens: `npm_` + 30 random base62 characters + a 6-character base62 CRC-32, the
 * format GitHub introduced for its own tokens; the checksum is verified (over the 30 characters,
 * or over the token with its prefix, as implementations differ), so look-alikes are rejected.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'npm-access-token',
    kind: 'npm',
    description: 'npm access token (checksum verified)',
    keywords: ['npm_'],
    pattern: '(?<![A-Za-z0-9_])(npm_[A-Za-z0-9]{36})(?![A-Za-z0-9_])',
    validate: 'crc32-base62',
    priority: 10,
  },
];
