import type { RuleSpec } from '../types.js';

/**
 * Tailscale keys: `tskey-` + type (`api`, `auth`, `client`, `webhook`, `scim`) + a key id + `-` +
 * the secret.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'tailscale-key',
    kind: 'tailscale',
    description: 'Tailscale API, auth, OAuth client, webhook or SCIM key',
    keywords: ['tskey-'],
    pattern: '(?<![A-Za-z0-9_-])(tskey-(?:api|auth|client|webhook|scim)-[A-Za-z0-9]{8,20}-[A-Za-z0-9]{16,64})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
