import type { RuleSpec } from '../types.js';

/**
 * New Relic: user API keys `NRAK-` + 27, ingest license keys (40 characters ending `NRAL`),
 * Insights insert keys `NRII-`, browser application keys `NRBR-` + 19 hex. A license key ends
 * `FFFFNRAL`, in capitals, and may start with a region (`eu01xx…`).
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'newrelic-user-api-key',
    kind: 'newrelic',
    description: 'New Relic user API key',
    keywords: ['NRAK-'],
    pattern: '(?<![A-Za-z0-9_-])(NRAK-[A-Z0-9]{27})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
  {
    id: 'newrelic-license-key',
    kind: 'newrelic',
    description: 'New Relic ingest license key',
    keywords: ['NRAL'],
    pattern: '(?<![A-Za-z0-9])([A-Za-z0-9]{36}NRAL)(?![A-Za-z0-9])',
    entropy: 3.0,
    priority: 10,
  },
  {
    id: 'newrelic-browser-key',
    kind: 'newrelic',
    description: 'New Relic browser application key',
    keywords: ['NRBR-'],
    pattern: '(?<![A-Za-z0-9_-])(NRBR-[a-f0-9]{19})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
  {
    id: 'newrelic-insert-key',
    kind: 'newrelic',
    description: 'New Relic Insights insert key',
    keywords: ['NRII-'],
    pattern: '(?<![A-Za-z0-9_-])(NRII-[A-Za-z0-9_-]{32})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
