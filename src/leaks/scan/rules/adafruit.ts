import type { RuleSpec } from '../types.js';

/**
 * Adafruit IO keys: `aio_` + 28 base62.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'adafruit-io-key',
    kind: 'adafruit',
    description: 'Adafruit IO key',
    keywords: ['aio_'],
    pattern: '(?<![A-Za-z0-9_-])(aio_[A-Za-z0-9]{28})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    priority: 10,
  },
];
