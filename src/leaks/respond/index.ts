/**
 * The leak response's public entry: what other folders (the composition root, HTTP routes, the
 * watch jobs, the CLI) use. Scanning lives in `leaks/scan`; this side records findings and acts.
 */
export { classifyFinding, LEAK_DECISIONS, LEAK_MODES, statusOf, type KeyStanding, type LeakDecision, type LeakFacts, type LeakMode } from './classify.js';
export {
  CREDENTIAL_TYPES,
  FINDING_STATUSES,
  HELD_REASONS,
  MAX_BATCH,
  MAX_SIGHTINGS,
  SIGHTING_VIA,
  type CredentialRef,
  type CredentialResponse,
  type CredentialType,
  type FindingStatus,
  type HeldReason,
  type FindingView,
  type PlaceView,
  type ReportedFinding,
  type ResponseOutcome,
  type Sighting,
  type SightingVia,
  type TokenReport,
} from './finding.js';
export { clientLeakGuard, keyLeakGuard } from './guard.js';
export { untrustedText, UNTRUSTED_NOTE } from './untrusted.js';
export { GitHubKeys, githubBodySchema, verifyGitHubSignature, type GitHubFeedback, type GitHubMatch } from './github.js';
export { LEAK_NOTIFICATION_TOPICS, OutboxNotifier, type OwnerLeakWebhooks, type LeakDetectedPayload, type LeakLogger, type LeakNotification, type LeakNotifier } from './notify.js';
export { LeakResponder, type LeakResponderOptions } from './responder.js';
export { findingsBodySchema, findingsQuerySchema, reportBodySchema } from './schemas.js';
