import type { RuleSpec } from '../types.js';

/**
 * HashiCorp: Vault service tokens `hvs.` (current; 90+ characters, or 24 in older releases),
 * batch tokens `hvb.`, recovery tokens `hvr.`; Terraform Cloud / Enterprise API tokens (14
 * characters, `.atlasv1.`, 60–70 characters).
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'vault-token',
    kind: 'hashicorp',
    description: 'HashiCorp Vault service, batch or recovery token',
    keywords: ['hvs.', 'hvb.', 'hvr.'],
    pattern: '(?<![A-Za-z0-9_.-])(hv[sbr]\\.(?:[A-Za-z0-9_-]{90,300}|[A-Za-z0-9]{24}))(?![A-Za-z0-9_.-])',
    entropy: 3.5,
    priority: 10,
  },
  {
    id: 'terraform-cloud-token',
    kind: 'hashicorp',
    description: 'Terraform Cloud / Enterprise API token',
    keywords: ['atlasv1'],
    pattern: '(?<![A-Za-z0-9_-])([A-Za-z0-9]{14}\\.atlasv1\\.[A-Za-z0-9_=-]{60,70})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
