import type { RuleSpec } from '../types.js';

/**
 * Square: access tokens (`EAAA` + 60 characters; legacy `sq0atp-` + 22) and OAuth application
 * secrets (`sq0csp-` + 43).
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'square-access-token',
    kind: 'square',
    description: 'Square access token',
    keywords: ['EAAA', 'sq0atp-'],
    pattern: '(?<![A-Za-z0-9_-])(EAAA[A-Za-z0-9_-]{60}|sq0atp-[A-Za-z0-9_-]{22})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
  {
    id: 'square-oauth-secret',
    kind: 'square',
    description: 'Square OAuth application secret',
    keywords: ['sq0csp-'],
    pattern: '(?<![A-Za-z0-9_-])(sq0csp-[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
