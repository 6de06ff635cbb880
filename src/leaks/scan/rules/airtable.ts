import type { RuleSpec } from '../types.js';

/**
 * Airtable personal access tokens: `pat` + 14 base62 + `.` + 64 hex.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'airtable-pat',
    kind: 'airtable',
    description: 'Airtable personal access token',
    keywords: ['pat'],
    pattern: '\\b(pat[A-Za-z0-9]{14}\\.[a-f0-9]{64})\\b',
    entropy: 3.5,
    priority: 10,
  },
];
