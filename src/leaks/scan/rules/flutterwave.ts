import type { RuleSpec } from '../types.js';

/**
 * Flutterwave secret keys `FLWSECK-` (or `FLWSECK_TEST-`) + 32 hex + `-X`.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'flutterwave-secret-key',
    kind: 'flutterwave',
    description: 'Flutterwave secret key',
    keywords: ['FLWSECK'],
    pattern: '\\b(FLWSECK(?:_TEST)?-[a-f0-9]{32}-X)(?![A-Za-z0-9])',
    entropy: 3.0,
    priority: 10,
  },
];
