import type { RuleSpec } from '../types.js';

/**
 * npm access tokens: `npm_` + 30 random base62 characters + a 6-character base62 CRC-32, the
 * format GitHub introduced for its own tokens; the checksum is verified (over the 30 characters,
 * or over the token with its prefix, as implementations differ), so look-alikes are rejected.
 * Legacy tokens (before 2021, still accepted until revoked) are UUIDs: reported only where a UUID
 * is an npm token — an `.npmrc` `_authToken=`, or a value assigned to an npm token name
 * (`NPM_TOKEN`, `npmAuthToken`, also written as words: `npm token`, and followed by a second word
 * as in `npmtoken token = …`), unless that name says digest or identifier.
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
  {
    id: 'npm-legacy-token',
    kind: 'npm',
    description: 'npm legacy access token (a UUID) in an .npmrc or next to an npm token name',
    keywords: ['_authtoken', 'npm_token', 'npmtoken', 'npm-token', 'npm token', 'npm_auth', 'npmauth', 'npm-auth', 'npm auth'],
    pattern:
      '(?:_authToken|npm[ _.-]?(?:auth[ _.-]?)?token)(?:[_.-][A-Za-z0-9]+)?(?:[ \\t]+(?:token|key|secret))?["\\\'`]?\\]?[ \\t]*(?::=|=>|=|:|,)[ \\t]*["\\\'`]?' +
      '([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?![A-Za-z0-9_-])',
    flags: 'i',
    entropy: 3.0,
    validate: 'provider-uuid',
    priority: 10,
  },
];
