import type { RuleSpec } from '../types.js';

/**
 * Brevo (Sendinblue) API keys `xkeysib-` and SMTP keys `xsmtpsib-`: 64 hex + `-` + 16 base62.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'brevo-api-key',
    kind: 'brevo',
    description: 'Brevo (Sendinblue) API or SMTP key',
    keywords: ['xkeysib-', 'xsmtpsib-'],
    pattern: '(?<![A-Za-z0-9_-])(x(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
];
