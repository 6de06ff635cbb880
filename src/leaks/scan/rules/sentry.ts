import type { RuleSpec } from '../types.js';

/**
 * Sentry: user auth tokens `sntryu_` + 64 hex, organisation tokens `sntrys_` + base64 JSON
 * (checked to decode) + `_` + 43 characters.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'sentry-user-token',
    kind: 'sentry',
    description: 'Sentry user auth token',
    keywords: ['sntryu_'],
    pattern: '(?<![A-Za-z0-9_-])(sntryu_[a-f0-9]{64})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
  {
    id: 'sentry-org-token',
    kind: 'sentry',
    description: 'Sentry organisation auth token (payload checked)',
    keywords: ['sntrys_'],
    pattern: '(sntrys_eyJ[A-Za-z0-9+/]{20,600}={0,2}_[A-Za-z0-9+/]{43})(?![A-Za-z0-9+/])',
    validate: 'embedded-json',
    priority: 10,
  },
];
