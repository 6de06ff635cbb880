import type { RuleSpec } from '../types.js';
import { rules as aws } from './aws.js';
import { rules as connectionString } from './connection-string.js';
import { rules as generic } from './generic.js';
import { rules as github } from './github.js';
import { rules as google } from './google.js';
import { rules as jwt } from './jwt.js';
import { rules as privateKey } from './private-key.js';
import { rules as slack } from './slack.js';
import { rules as stripe } from './stripe.js';

/**
 * The built-in rule pack: one data module per provider. Keyturn's own secrets are not here:
 * their rule is built from the configured prefixes ({@link keyturnRule}).
 */
export const BUILTIN_RULES: readonly RuleSpec[] = [
  ...aws,
  ...github,
  ...stripe,
  ...slack,
  ...google,
  ...privateKey,
  ...jwt,
  ...connectionString,
  ...generic,
];

/** Prefix roots recognised when none are configured: `kt`, `kt_live`, `ktr`, … (anything starting `kt`). */
export const DEFAULT_KEYTURN_PREFIXES: readonly string[] = ['kt'];

/**
 * The rule for keyturn secrets whose prefix starts with one of `prefixes` (`*`: any prefix).
 * Every match is confirmed by the CRC-32 check, so it never reports a look-alike.
 *
 * @example
 * ```ts
 * keyturnRule(['kt']).keywords; // ['kt']
 * ```
 */
export function keyturnRule(prefixes: readonly string[]): RuleSpec {
  const any = prefixes.includes('*');
  const roots = any ? '[a-z]' : `(?:${prefixes.map(escapeRegex).join('|')})`;
  return {
    id: 'keyturn-secret',
    kind: 'keyturn',
    description: 'keyturn secret (API key, refresh token or client secret), checksum verified',
    keywords: any ? [] : [...prefixes],
    pattern: `\\b(${roots}[a-z0-9]*(?:_[a-z0-9]+)*_[0-9A-Za-z]{49})(?![A-Za-z0-9_])`,
    validate: 'keyturn',
    priority: 0,
  };
}

/** Escapes regex metacharacters of a literal. */
export function escapeRegex(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
