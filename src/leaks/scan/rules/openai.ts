import type { RuleSpec } from '../types.js';

/**
 * OpenAI API keys (`sk-`, project `sk-proj-`, service account `sk-svcacct-`, admin `sk-admin-`):
 * every current key carries the marker `T3BlbkFJ` (base64 of "OpenAI") between two random halves,
 * which is what the rule requires.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'openai-api-key',
    kind: 'openai',
    description: 'OpenAI API key',
    keywords: ['T3BlbkFJ'],
    pattern: '(?<![A-Za-z0-9_-])(sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{20,200}T3BlbkFJ[A-Za-z0-9_-]{20,200})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
