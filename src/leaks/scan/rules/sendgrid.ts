import type { RuleSpec } from '../types.js';

/**
 * SendGrid API keys: `SG.` + a 22-character key id + `.` + a 43-character secret, base64url.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'sendgrid-api-key',
    kind: 'sendgrid',
    description: 'SendGrid API key',
    keywords: ['SG.'],
    pattern: '(?<![A-Za-z0-9_-])(SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
