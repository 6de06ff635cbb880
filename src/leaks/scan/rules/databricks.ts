import type { RuleSpec } from '../types.js';

/**
 * Databricks personal access tokens: `dapi` + 32 hex (optionally `-` + a digit).
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'databricks-token',
    kind: 'databricks',
    description: 'Databricks personal access token',
    keywords: ['dapi'],
    pattern: '(?<![A-Za-z0-9_])(dapi[a-f0-9]{32}(?:-[0-9])?)(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
];
