import type { RuleSpec } from '../types.js';

/**
 * Mailchimp (Intuit) API keys: 32 hex then the data-centre suffix `-us` + 1–2 digits.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'mailchimp-api-key',
    kind: 'mailchimp',
    description: 'Mailchimp API key',
    keywords: ['-us'],
    pattern: '(?<![A-Za-z0-9])([0-9a-f]{32}-us[0-9]{1,2})(?![A-Za-z0-9])',
    entropy: 3.0,
    priority: 10,
  },
];
