import type { RuleSpec } from '../types.js';

/**
 * Heroku platform API keys in the current format: `HRKU-` + 60 characters (the legacy keys are
 * UUIDs, which are not told apart from identifiers).
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'heroku-api-key',
    kind: 'heroku',
    description: 'Heroku platform API key',
    keywords: ['HRKU-'],
    pattern: '(?<![A-Za-z0-9_-])(HRKU-[A-Za-z0-9_-]{60})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
