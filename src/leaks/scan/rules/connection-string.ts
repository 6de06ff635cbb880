import type { RuleSpec } from '../types.js';

/** Database and broker URLs that carry a password: PostgreSQL, MySQL/MariaDB, MongoDB (+srv), Redis, AMQP. */
export const rules: readonly RuleSpec[] = [
  {
    id: 'connection-string',
    kind: 'connection-string',
    description: 'Database or broker connection string with a password',
    keywords: ['postgres', 'mysql', 'mariadb', 'mongodb', 'redis', 'amqp'],
    pattern:
      '\\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\\+srv)?|rediss?|amqps?)://[^\\s:@/\'"`]*:([^\\s@/\'"`]{4,200})@[A-Za-z0-9.-]',
    entropy: 2.5,
    validate: 'connection-string',
    priority: 20,
  },
];
