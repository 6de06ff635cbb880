/**
 * The principals capability's public entry: other capability folders import from here, never from
 * `service.ts` (the `principals` and `exposures` tables are read and written only there).
 */
export {
  createPrincipalSchema,
  exposuresOf,
  markOffboardedIn,
  metadataSchema,
  PRINCIPAL_KINDS,
  PRINCIPALS_CHANNEL,
  PrincipalService,
  principalStanding,
  principalStatus,
  recordExposure,
  type CreatePrincipalInput,
  type Exposure,
  type Principal,
  type PrincipalKind,
  type PrincipalStanding,
  type PrincipalStatus,
} from './service.js';
export {
  OFFBOARDING_ACTIONS,
  OFFBOARDING_JOB,
  offboardingJob,
  OffboardingService,
  offboardSchema,
  type OffboardingAction,
  type OffboardingParticipant,
  type OffboardingReport,
  type OffboardingServiceOptions,
  type OffboardingStepView,
  type OffboardingSubject,
  type PlannedStep,
  type StepResult,
} from './offboarding.js';
