import type { RuleSpec } from '../types.js';

/**
 * Mailgun private API keys `key-` + 32 hex (legacy form) and keys named as Mailgun's. Today's
 * private API and sending keys are 32 hex, `-`, 8 hex, `-`, 8 hex: a shape no digest or UUID has
 * (a UUID is 8-4-4-4-12), so in a file that names Mailgun it is a finding wherever it stands,
 * unless its name says digest or identifier.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'mailgun-api-key',
    kind: 'mailgun',
    description: 'Mailgun private API key',
    keywords: ['key-'],
    pattern: '(key-(?<![A-Za-z0-9_-]key-)[0-9a-f]{32})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
  {
    id: 'mailgun-named-key',
    kind: 'mailgun',
    description: 'Mailgun API or signing key next to its name',
    keywords: ['mailgun'],
    pattern: '(?:mailgun)[\\w.-]{0,30}?(?:(?:api[_.-]?)?(?:token|key|secret))(?:[_.-][A-Za-z0-9]+)?["\\\'`]?\\]?[ \\t]*(?::=|=>|=|:|,)[ \\t]*["\\\'`]?([0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8}|[0-9a-f]{32})(?![A-Za-z0-9_-])',
    flags: 'i',
    entropy: 3.0,
    validate: 'provider-value',
    priority: 10,
  },
  {
    id: 'mailgun-private-key',
    kind: 'mailgun',
    description: 'Mailgun private API key (32-8-8 hex) in a file that names Mailgun',
    keywords: ['mailgun'],
    // From the `-` before the 8-digit groups (rarer than a hex digit, so quick to find); the key,
    // its 32 hex digits included, is captured in a look-behind.
    pattern: '-[0-9a-f]{8}-[0-9a-f]{8}(?![A-Za-z0-9_-])(?<=(?<![A-Za-z0-9_-])([0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8}))',
    entropy: 3.0,
    validate: 'provider-value',
    priority: 10,
  },
];
