import type { RuleSpec } from '../types.js';

/**
 * Cloudinary environment URLs: `cloudinary://<api key>:<api secret>@<cloud name>`.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'cloudinary-url',
    kind: 'cloudinary',
    description: 'Cloudinary URL with an API secret',
    keywords: ['cloudinary://'],
    pattern: 'cloudinary://[0-9]{10,20}:([A-Za-z0-9_-]{20,40})@[A-Za-z0-9_-]+',
    entropy: 3.5,
    priority: 10,
  },
];
