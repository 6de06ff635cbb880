import type { RuleSpec } from '../types.js';

/**
 * DigitalOcean tokens: personal access `dop_v1_`, OAuth `doo_v1_` and refresh `dor_v1_`, each +
 * 64 hex.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'digitalocean-token',
    kind: 'digitalocean',
    description: 'DigitalOcean personal access, OAuth or refresh token',
    keywords: ['dop_v1_', 'doo_v1_', 'dor_v1_'],
    pattern: '(?<![A-Za-z0-9_-])(do[opr]_v1_[a-f0-9]{64})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
];
