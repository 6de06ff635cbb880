import type { RuleSpec } from '../types.js';

/**
 * Supabase personal access tokens `sbp_` + 40 hex and secret API keys `sb_secret_`.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'supabase-token',
    kind: 'supabase',
    description: 'Supabase personal access token or secret API key',
    keywords: ['sbp_', 'sb_secret_'],
    pattern: '(?<![A-Za-z0-9_-])(sbp_[a-f0-9]{40}|sb_secret_[A-Za-z0-9_-]{31,64})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
];
