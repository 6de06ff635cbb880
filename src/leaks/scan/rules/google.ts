import type { RuleSpec } from '../types.js';

/** Google Cloud / Maps / Firebase API keys: `AIza` then 35 characters of `[0-9A-Za-z_-]`. */
export const rules: readonly RuleSpec[] = [
  {
    id: 'google-api-key',
    kind: 'google',
    description: 'Google API key',
    keywords: ['AIza'],
    pattern: '(?<![A-Za-z0-9_-])(AIza[0-9A-Za-z_-]{35})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
