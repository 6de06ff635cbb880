import type { RuleSpec } from '../types.js';

/**
 * Stripe: secret keys `sk_live_`/`sk_test_` and restricted keys `rk_live_`/`rk_test_`, then at
 * least 24 base62 characters; webhook signing secrets `whsec_`. Publishable keys (`pk_`) are
 * public by design and not matched.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'stripe-secret-key',
    kind: 'stripe',
    description: 'Stripe secret or restricted API key',
    keywords: ['sk_live_', 'sk_test_', 'rk_live_', 'rk_test_'],
    pattern: '\\b([sr]k_(?:live|test)_[A-Za-z0-9]{24,247})(?![A-Za-z0-9_])',
    entropy: 3.5,
    priority: 10,
  },
  {
    id: 'stripe-webhook-secret',
    kind: 'stripe',
    description: 'Stripe webhook signing secret',
    keywords: ['whsec_'],
    pattern: '\\b(whsec_[A-Za-z0-9+/]{32,64}={0,2})(?![A-Za-z0-9+/=])',
    entropy: 3.5,
    priority: 10,
  },
];
