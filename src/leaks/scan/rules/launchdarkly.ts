import type { RuleSpec } from '../types.js';

/**
 * LaunchDarkly API access tokens (`api-` + a UUID) and server-side SDK keys (`sdk-` + a UUID).
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'launchdarkly-key',
    kind: 'launchdarkly',
    description: 'LaunchDarkly API access token or server-side SDK key',
    keywords: ['api-', 'sdk-'],
    pattern: '(?<![A-Za-z0-9_-])((?:api|sdk)-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
];
