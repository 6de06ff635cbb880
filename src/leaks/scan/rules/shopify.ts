import type { RuleSpec } from '../types.js';

/**
 * Shopify: Admin API access tokens (`shpat_`), custom-app (`shpca_`) and private-app (`shppa_`)
 * tokens, and app shared secrets (`shpss_`), each + 32 hex.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'shopify-access-token',
    kind: 'shopify',
    description: 'Shopify Admin API, custom app or private app access token',
    keywords: ['shpat_', 'shpca_', 'shppa_'],
    pattern: '(?<![A-Za-z0-9_-])(shp(?:at|ca|pa)_[a-fA-F0-9]{32})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
  {
    id: 'shopify-shared-secret',
    kind: 'shopify',
    description: 'Shopify app shared secret',
    keywords: ['shpss_'],
    pattern: '(?<![A-Za-z0-9_-])(shpss_[a-fA-F0-9]{32})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
];
