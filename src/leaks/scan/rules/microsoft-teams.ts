import type { RuleSpec } from '../types.js';

/**
 * Microsoft Teams incoming webhook URLs (`*.webhook.office.com/webhookb2/…/IncomingWebhook/<32
 * hex>/…`), and the Power Automate workflow URLs that replace them (`*.environment.api.powerplatform.com
 * …/workflows/<32 hex>/triggers/manual/paths/invoke?…&sig=<signature>`): whoever holds the URL can
 * post to the channel, the `sig` query parameter being the secret part.
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
  {
    id: 'teams-workflow-webhook',
    kind: 'microsoft-teams',
    description: 'Microsoft Teams workflow (Power Automate) webhook URL',
    keywords: ['powerplatform.com'],
    pattern:
      '(https://[a-z0-9.-]+\\.environment\\.api\\.powerplatform\\.com(?::443)?/powerautomate/automations/direct/workflows/[a-f0-9]{32}/triggers/manual/paths/invoke\\?[A-Za-z0-9%._=&-]*?sig=[A-Za-z0-9_-]{40,50})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
];
