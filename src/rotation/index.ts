/**
 * The rotation capability's public entry: stored lifetime policies (the `rotation_policies` table
 * is read and written only by `policies.ts`), the scheduler that rotates what is due, and signed
 * webhooks to owners (`webhook_endpoints`, read and written only by `webhooks.ts`).
 */
export { rotationMigrations } from './migrations.js';
export {
  createPolicySchema,
  POLICIES_CHANNEL,
  policyNameSchema,
  PolicyService,
  updatePolicySchema,
  type GovernedCount,
  type GovernedCounter,
  type PolicyView,
} from './policies.js';
export { ROTATION_JOB, rotateAllDue, rotationJob, type RotationRun, type RotationWork } from './scheduler.js';
export { newWebhookSecret, signWebhook, verifyWebhook, webhookHeaders, type WebhookRefusal } from './standard-webhooks.js';
export {
  createWebhookSchema,
  WEBHOOK_EVENT_TYPES,
  WEBHOOK_TOPIC,
  WebhookService,
  type WebhookDelivery,
  type WebhookEndpointView,
  type WebhookEvent,
  type WebhookEventType,
  type WebhookSecretSealer,
  type WebhookServiceOptions,
} from './webhooks.js';
