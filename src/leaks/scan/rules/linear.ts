import type { RuleSpec } from '../types.js';

/**
 * Linear API keys `lin_api_` + 40 base62 and OAuth tokens `lin_oauth_` + 64 hex.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'linear-api-key',
    kind: 'linear',
    description: 'Linear API key or OAuth token',
    keywords: ['lin_api_', 'lin_oauth_'],
    pattern: '(?<![A-Za-z0-9_-])(lin_api_[A-Za-z0-9]{40}|lin_oauth_[a-f0-9]{64})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
