import type { RuleSpec } from '../types.js';

/**
 * GitLab tokens, each with its documented prefix (docs.gitlab.com, "Token prefixes"):
 * personal/project/group access `glpat-` (20 characters, or the routable form with a `.` +
 * version + base36 CRC), runner authentication `glrt-` and legacy registration `GR1348941`,
 * deploy `gldt-`, pipeline trigger `glptt-` + 40 hex, and the others (`glcbt-` CI job, `glffct-`
 * feature flags, `glft-` feed, `glimt-` incoming mail, `glagent-` Kubernetes agent, `gloas-`
 * OAuth application secret, `glsoat-` SCIM).
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'gitlab-pat',
    kind: 'gitlab',
    description: 'GitLab personal, project or group access token',
    keywords: ['glpat-'],
    pattern: '(?<![A-Za-z0-9_-])(glpat-(?:[A-Za-z0-9_-]{27,300}\\.[0-9a-z]{2}[0-9a-z]{7}|[A-Za-z0-9_-]{20}))(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
  {
    id: 'gitlab-runner-token',
    kind: 'gitlab',
    description: 'GitLab runner authentication or registration token',
    keywords: ['glrt-', 'GR1348941'],
    pattern: '(?<![A-Za-z0-9_-])((?:glrt-|GR1348941)[A-Za-z0-9_-]{20,64}(?:\\.[0-9a-z]{2}[0-9a-z]{7})?)(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
  {
    id: 'gitlab-deploy-token',
    kind: 'gitlab',
    description: 'GitLab deploy token',
    keywords: ['gldt-'],
    pattern: '(?<![A-Za-z0-9_-])(gldt-[A-Za-z0-9_-]{20,64})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
  {
    id: 'gitlab-pipeline-trigger-token',
    kind: 'gitlab',
    description: 'GitLab pipeline trigger token',
    keywords: ['glptt-'],
    pattern: '(?<![A-Za-z0-9_-])(glptt-[0-9a-f]{40})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
  {
    id: 'gitlab-other-token',
    kind: 'gitlab',
    description: 'GitLab CI job, feature flag, feed, incoming mail, agent, OAuth application or SCIM token',
    keywords: ['glcbt-', 'glffct-', 'glft-', 'glimt-', 'glagent-', 'gloas-', 'glsoat-'],
    pattern: '(?<![A-Za-z0-9_-])(gl(?:cbt-[0-9a-zA-Z]{1,5}_|ffct-|ft-|imt-|agent-|oas-|soat-)[A-Za-z0-9_-]{20,64})(?![A-Za-z0-9_-])',
    entropy: 3.0,
    priority: 10,
  },
];
