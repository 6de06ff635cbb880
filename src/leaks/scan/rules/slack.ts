import type { RuleSpec } from '../types.js';

/**
 * Slack: tokens `xoxb-` (bot), `xoxp-` (user), `xoxa-`/`xoxr-` (app/refresh), `xoxe-`, `xoxs-`,
 * app-level `xapp-`, and incoming webhook URLs under `hooks.slack.com`.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'slack-token',
    kind: 'slack',
    description: 'Slack bot, user, app or refresh token',
    keywords: ['xoxb-', 'xoxp-', 'xoxa-', 'xoxr-', 'xoxe-', 'xoxs-', 'xoxo-'],
    pattern: '(?<![A-Za-z0-9-])(xox[baprseo](?:\\.xox[a-z])?-(?:[0-9]{1,14}-){1,3}[A-Za-z0-9]{16,64})(?![A-Za-z0-9-])',
    entropy: 3.0,
    priority: 10,
  },
  {
    id: 'slack-app-token',
    kind: 'slack',
    description: 'Slack app-level token',
    keywords: ['xapp-'],
    pattern: '(?<![A-Za-z0-9-])(xapp-[0-9]-[A-Z0-9]{6,16}-[0-9]{6,16}-[a-f0-9]{32,80})(?![A-Za-z0-9-])',
    priority: 10,
  },
  {
    id: 'slack-webhook',
    kind: 'slack',
    description: 'Slack incoming webhook URL',
    keywords: ['hooks.slack.com'],
    pattern: '(https://hooks\\.slack\\.com/(?:services|workflows|triggers)/T[A-Z0-9]{6,12}/[AB][A-Z0-9]{6,12}/[A-Za-z0-9]{20,40})(?![A-Za-z0-9])',
    entropy: 3.0,
    priority: 10,
  },
];
