/**
 * The principals capability's public entry: other capability folders import from here, never from
 * `service.ts` (the `principals` and `exposures` tables are read and written only there).
 */
export {
  createPrincipalSchema,
  metadataSchema,
  PRINCIPAL_KINDS,
  PRINCIPALS_CHANNEL,
  PrincipalService,
  principalStanding,
  principalStatus,
  recordExposure,
  type CreatePrincipalInput,
  type Principal,
  type PrincipalKind,
  type PrincipalStanding,
  type PrincipalStatus,
} from './service.js';
