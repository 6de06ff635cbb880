/**
 * Background work shared by every capability: the {@link JobRunner} (named jobs on a schedule, each
 * run claimed with a lease through the store) and the durable {@link Outbox} (messages written in
 * the transaction of the change they announce, delivered at least once by a runner job). The
 * public entry of `src/jobs`: other folders import from here.
 */
export { EgressGuard, urlHost, type GitPin, type ResolveAll } from './egress.js';
export { jobMigrations } from './migrations.js';
export {
  JobRunner,
  type JobDefinition,
  type JobLogger,
  type JobOutcome,
  type JobResult,
  type JobRun,
  type JobRunnerOptions,
  type JobView,
} from './runner.js';
export {
  Outbox,
  OUTBOX_CHANNEL,
  OUTBOX_JOB,
  retryDelay,
  type AttemptObserver,
  type Deliverer,
  type Delivery,
  type DeliveryAttempt,
  type DeliveryRequest,
  type OutboxKind,
  type OutboxKinds,
  type OutboxMessage,
  type OutboxMessageView,
  type OutboxOptions,
  type OutboxStatus,
} from './outbox.js';
export {
  webhookDeliverer,
  webhookMessage,
  type WebhookDelivererOptions,
  type WebhookRequest,
  type WebhookSigner,
  type WebhookSigningInput,
} from './webhook.js';
