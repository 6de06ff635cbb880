import type { RuleSpec } from '../types.js';

/**
 * Doppler tokens: `dp.pt.` personal, `dp.st.` service, `dp.sa.` service account, `dp.ct.` CLI,
 * `dp.scim.`, `dp.audit.`, then 40–44 base62 characters.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'doppler-token',
    kind: 'doppler',
    description: 'Doppler token',
    keywords: ['dp.pt.', 'dp.st.', 'dp.sa.', 'dp.ct.', 'dp.scim.', 'dp.audit.'],
    pattern: '(?<![A-Za-z0-9_-])(dp\\.(?:pt|st|sa|ct|scim|audit)\\.[A-Za-z0-9]{40,44})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
