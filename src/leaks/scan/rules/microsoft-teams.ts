import type { RuleSpec } from '../types.js';

/**
 * Microsoft Teams incoming webhook URLs (`*.webhook.office.com/webhookb2/…/IncomingWebhook/<32
 * hex>/…`).
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'teams-webhook',
    kind: 'microsoft-teams',
    description: 'Microsoft Teams incoming webhook URL',
    keywords: ['webhook.office.com'],
    pattern: '(https://[a-z0-9-]+\\.webhook\\.office\\.com/webhookb2/[a-f0-9-]{36}@[a-f0-9-]{36}/IncomingWebhook/[a-f0-9]{32}/[a-f0-9-]{36}(?:/[A-Za-z0-9_-]{20,80})?)',
    entropy: 3.0,
    priority: 10,
  },
];
