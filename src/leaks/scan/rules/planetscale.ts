import type { RuleSpec } from '../types.js';

/**
 * PlanetScale service tokens `pscale_tkn_`, passwords `pscale_pw_`, OAuth tokens `pscale_oauth_`.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'planetscale-token',
    kind: 'planetscale',
    description: 'PlanetScale service token, password or OAuth token',
    keywords: ['pscale_tkn_', 'pscale_pw_', 'pscale_oauth_'],
    pattern: '(?<![A-Za-z0-9_-])(pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_=.-]{32,64})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
