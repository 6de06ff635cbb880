import type { RuleSpec } from '../types.js';

/**
 * Cloudflare: origin CA keys (`v1.0-` + 24 hex + `-` + 146 hex), and API tokens (40 characters)
 * and the global API key (37 hex), which have no prefix and are recognised next to a Cloudflare
 * name.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'cloudflare-origin-ca-key',
    kind: 'cloudflare',
    description: 'Cloudflare origin CA key',
    keywords: ['v1.0-'],
    pattern: '(?<![A-Za-z0-9_-])(v1\\.0-[a-f0-9]{24}-[a-f0-9]{146})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
  {
    id: 'cloudflare-api-token',
    kind: 'cloudflare',
    description: 'Cloudflare API token next to its name',
    keywords: ['cloudflare', 'cf_api', 'cf-api', 'cfapi'],
    pattern: '(?:cloudflare|\\bcf)[\\w.-]{0,30}?(?:(?:api[_.-]?)?(?:token|key|secret))(?:[_.-][A-Za-z0-9]+)?["\\\'`]?\\]?[ \\t]*(?::=|=>|=|:|,)[ \\t]*["\\\'`]?([A-Za-z0-9_-]{40})(?![A-Za-z0-9_-])',
    flags: 'i',
    entropy: 3.5,
    validate: 'provider-value',
    priority: 10,
  },
  {
    id: 'cloudflare-global-api-key',
    kind: 'cloudflare',
    description: 'Cloudflare global API key next to its name',
    keywords: ['cloudflare', 'cf_api', 'cf-api', 'cfapi'],
    pattern: '(?:cloudflare|\\bcf)[\\w.-]{0,30}?(?:(?:api[_.-]?)?(?:token|key|secret))(?:[_.-][A-Za-z0-9]+)?["\\\'`]?\\]?[ \\t]*(?::=|=>|=|:|,)[ \\t]*["\\\'`]?([a-f0-9]{37})(?![A-Za-z0-9_-])',
    flags: 'i',
    entropy: 3.0,
    validate: 'provider-value',
    priority: 10,
  },
];
