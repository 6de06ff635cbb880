import type { RuleSpec } from '../types.js';

/**
 * NuGet.org API keys: `oy2` + 43 lower-case base32-like characters.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'nuget-api-key',
    kind: 'nuget',
    description: 'NuGet API key',
    keywords: ['oy2'],
    pattern: '(?<![A-Za-z0-9])(oy2[a-z0-9]{43})(?![A-Za-z0-9])',
    entropy: 3.5,
    priority: 10,
  },
];
