import type { RuleSpec } from '../types.js';

/**
 * Meta (Facebook) access tokens: `EAA` + an app letter + 90+ base62 characters.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'facebook-access-token',
    kind: 'facebook',
    description: 'Meta / Facebook access token',
    keywords: ['EAA'],
    pattern: '(?<![A-Za-z0-9_-])(EAA[B-Z][A-Za-z0-9]{90,400})(?![A-Za-z0-9_-])',
    entropy: 4.0,
    priority: 10,
  },
];
