import type { RuleSpec } from '../types.js';

/**
 * Atlassian API tokens (`ATATT3` + 186 characters, ending in `=` and an 8-hex checksum) and
 * Bitbucket repository/workspace access tokens (`ATCTT3`).
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'atlassian-api-token',
    kind: 'atlassian',
    description: 'Atlassian (Jira, Confluence) API token or Bitbucket access token',
    keywords: ['ATATT3', 'ATCTT3'],
    pattern: '(?<![A-Za-z0-9_-])((?:ATATT|ATCTT)3[A-Za-z0-9_=-]{177,186}=[0-9A-Fa-f]{8})(?![A-Za-z0-9_=-])',
    entropy: 4.0,
    priority: 10,
  },
];
