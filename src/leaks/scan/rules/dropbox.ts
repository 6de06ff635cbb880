import type { RuleSpec } from '../types.js';

/**
 * Dropbox short-lived access tokens: `sl.` (or `sl.u.`) + 130+ base64url characters.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'dropbox-access-token',
    kind: 'dropbox',
    description: 'Dropbox access token',
    keywords: ['sl.'],
    pattern: '(?<![A-Za-z0-9_.-])(sl\\.(?:u\\.)?[A-Za-z0-9_-]{130,1200})(?![A-Za-z0-9_-])',
    entropy: 4.0,
    priority: 10,
  },
];
