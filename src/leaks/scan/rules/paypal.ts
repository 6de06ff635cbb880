import type { RuleSpec } from '../types.js';

/**
 * PayPal / Braintree access tokens: `access_token$production$` (or `$sandbox$`) + a 16-character
 * merchant id + `$` + 32 hex.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'braintree-access-token',
    kind: 'paypal',
    description: 'PayPal Braintree access token',
    keywords: ['access_token$'],
    pattern: '(access_token\\$(?:production|sandbox)\\$[0-9a-z]{16}\\$[0-9a-f]{32})(?![A-Za-z0-9])',
    entropy: 3.0,
    priority: 10,
  },
];
