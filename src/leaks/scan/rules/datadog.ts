import type { RuleSpec } from '../types.js';

/**
 * Datadog API keys (32 hex) and application keys (40 hex): no prefix, recognised next to a
 * Datadog name (`DD_API_KEY`, `datadog_app_key`, …).
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'datadog-api-key',
    kind: 'datadog',
    description: 'Datadog API key next to its name',
    keywords: ['datadog', 'dd_api', 'dd-api', 'ddapi'],
    pattern: '(?:datadog|\\bdd)[\\w.-]{0,20}?api[_.-]?key["\\\'`]?\\]?[ \\t]*(?::=|=>|=|:|,)[ \\t]*["\\\'`]?([a-f0-9]{32})(?![A-Za-z0-9_-])',
    flags: 'i',
    entropy: 3.0,
    validate: 'provider-value',
    priority: 10,
  },
  {
    id: 'datadog-app-key',
    kind: 'datadog',
    description: 'Datadog application key next to its name',
    keywords: ['datadog', 'dd_app', 'dd-app', 'ddapp'],
    pattern: '(?:datadog|\\bdd)[\\w.-]{0,20}?app(?:lication)?[_.-]?key["\\\'`]?\\]?[ \\t]*(?::=|=>|=|:|,)[ \\t]*["\\\'`]?([a-f0-9]{40})(?![A-Za-z0-9_-])',
    flags: 'i',
    entropy: 3.0,
    validate: 'provider-value',
    priority: 10,
  },
];
