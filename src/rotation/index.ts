/**
 * The rotation capability's public entry: stored lifetime policies (the `rotation_policies` table
 * is read and written only by `policies.ts`), and the scheduler that rotates what is due.
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
