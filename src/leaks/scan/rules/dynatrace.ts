import type { RuleSpec } from '../types.js';

/**
 * Dynatrace API tokens: `dt0c01.` + 24 upper-case characters (the public id) + `.` + 64 (the
 * secret).
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'dynatrace-api-token',
    kind: 'dynatrace',
    description: 'Dynatrace API token',
    keywords: ['dt0c01.'],
    pattern: '(?<![A-Za-z0-9_-])(dt0c01\\.[A-Z0-9]{24}\\.[A-Z0-9]{64})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
