/**
 * The API keys capability's public entry: other capability folders import the key service and its
 * views from here, never from `service.ts` (the `api_keys` table is read and written only there).
 */
export {
  createKeySchema,
  rotateKeySchema,
  KEYS_CHANNEL,
  KeyService,
  type KeyChange,
  type KeyEventHook,
  type KeyEventsHook,
  type KeyLifecycleEvent,
  type KeyLeakGuard,
  type KeyRotationState,
  type Rotation,
  type RotatedBy,
  type SecretSealer,
  type KeyServiceOptions,
  type KeyStatus,
  type KeyView,
  type Verification,
  type VerificationFailure,
  type VerifiedKey,
} from './service.js';
