import type { RuleSpec } from '../types.js';

/**
 * Harness personal access and service account tokens: `pat.` / `sat.` + 22-character account id +
 * `.` + 24 hex + `.` + 20 base62.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'harness-token',
    kind: 'harness',
    description: 'Harness personal access or service account token',
    keywords: ['pat.', 'sat.'],
    pattern: '\\b((?:pat|sat)\\.[A-Za-z0-9_-]{22}\\.[0-9a-f]{24}\\.[A-Za-z0-9]{20})\\b',
    entropy: 3.5,
    priority: 10,
  },
];
