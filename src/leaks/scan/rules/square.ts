import type { RuleSpec } from '../types.js';

/**
 * Square: access tokens (`EAAA` + 60 characters, production and sandbox alike; legacy personal
 * tokens `sq0atp-` + 22, in the sandbox `sandbox-sq0atb-` + 22) and OAuth application secrets
 * (`sq0csp-` + 43, in the sandbox `sandbox-sq0csb-` + 43). Application ids (`sq0idp-`,
 * `sandbox-sq0idb-`) are public and location ids are identifiers: neither is reported. Every
 * Square secret carries one of these prefixes, so no Square rule needs a Square name beside it.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'square-access-token',
    kind: 'square',
    description: 'Square access token',
    keywords: ['EAAA', 'sq0atp-'],
    pattern: '(?<![A-Za-z0-9_-])(EAAA[A-Za-z0-9_-]{60}|sq0atp-[A-Za-z0-9_-]{22})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
  {
    // Apart from the rule above, so that its regex keeps two alternatives in the many files that hold `EAAA`.
    id: 'square-sandbox-access-token',
    kind: 'square',
    description: 'Square sandbox personal access token (legacy)',
    keywords: ['sandbox-sq0atb-'],
    pattern: '(?<![A-Za-z0-9_-])(sandbox-sq0atb-[A-Za-z0-9_-]{22})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
  {
    id: 'square-oauth-secret',
    kind: 'square',
    description: 'Square OAuth application secret',
    keywords: ['sq0csp-', 'sandbox-sq0csb-'],
    pattern: '(?<![A-Za-z0-9_-])(sq0csp-[A-Za-z0-9_-]{43}|sandbox-sq0csb-[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
