import type { RuleSpec } from '../types.js';

/**
 * Grafana: Cloud access policy tokens `glc_` + base64 JSON, service account tokens `glsa_` + 32 +
 * `_` + 8 hex, and legacy API keys (base64 JSON starting `eyJrIjoi`, i.e. `{"k":"`); the JSON
 * parts are checked to decode.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'grafana-cloud-token',
    kind: 'grafana',
    description: 'Grafana Cloud access policy token (payload checked)',
    keywords: ['glc_'],
    pattern: '(?<![A-Za-z0-9_])(glc_eyJ[A-Za-z0-9+/]{29,400}={0,3})(?![A-Za-z0-9+/=])',
    validate: 'embedded-json',
    priority: 10,
  },
  {
    id: 'grafana-service-account-token',
    kind: 'grafana',
    description: 'Grafana service account token',
    keywords: ['glsa_'],
    pattern: '(?<![A-Za-z0-9_-])(glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
  {
    id: 'grafana-api-key',
    kind: 'grafana',
    description: 'Grafana legacy API key (payload checked)',
    keywords: ['eyJrIjoi'],
    pattern: '(?<![A-Za-z0-9+/])(eyJrIjoi[A-Za-z0-9+/]{40,400}={0,3})(?![A-Za-z0-9+/=])',
    validate: 'embedded-json',
    priority: 10,
  },
];
