import type { RuleSpec } from '../types.js';

/**
 * Snowflake has no token prefix: passwords, programmatic access tokens and private-key
 * passphrases are recognised next to a Snowflake name (the value passes the generic check).
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'snowflake-credential',
    kind: 'snowflake',
    description: 'Snowflake password or token next to its name',
    keywords: ['snowflake'],
    pattern: 'snowflake[\\w.-]{0,30}?(?:password|passwd|pwd|token|passphrase|secret)["\\\'`]?\\]?[ \\t]*(?::=|=>|=|:)[ \\t]*["\\\'`]?([^\\s"\\\'`,;]{8,200})(?=["\\\'`\\s,;]|$)',
    flags: 'i',
    entropy: 3.0,
    validate: 'generic',
    priority: 10,
  },
];
