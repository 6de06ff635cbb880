import type { RuleSpec } from '../types.js';

/**
 * Notion integration tokens: current `ntn_` + 11 digits + 35 base62, legacy `secret_` + 43
 * base62.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'notion-token',
    kind: 'notion',
    description: 'Notion integration token',
    keywords: ['ntn_', 'secret_'],
    pattern: '(?<![A-Za-z0-9_])(ntn_[0-9]{11}[A-Za-z0-9]{35}|secret_[A-Za-z0-9]{43})(?![A-Za-z0-9_])',
    entropy: 3.5,
    priority: 10,
  },
];
