/**
 * The OAuth capability's public entry: the services the composition root wires and the discovery
 * documents the HTTP edge serves. Another capability folder imports OAuth only from here.
 */
export {
  AccessTokenService,
  activeAccessTokensOf,
  lastExpiryOfKid,
  opaqueAccessTokenByDigest,
  revokeAccessTokenIn,
  revokeClientAccessTokens,
  type AccessTokenHolder,
  type AccessTokenServiceOptions,
  type ActiveAccessToken,
  type Actor,
  type IssuedAccessToken,
} from './access-tokens.js';
export { ClientAuthenticator, parseBasic as parseClientBasic, type ClientCredentials } from './client-auth.js';
export {
  AUTH_METHODS,
  AUTHORIZATION_CHANNELS,
  clientBySecretDigest,
  clientsOwnedBy,
  transferClientIn,
  CLIENTS_CHANNEL,
  ClientService,
  type ClientEventHook,
  type ClientLifecycleEvent,
  createClientSchema,
  disableClientIn,
  revokeClientSecretIn,
  GRANT_TYPES,
  updateClientSchema,
  type AuthMethod,
  type Client,
  type ClientLeakGuard,
  type ClientSecretHolder,
  type ClientServiceOptions,
  type ClientView,
  type GrantType,
} from './clients.js';
export { authMethods, authorizationServerMetadata, OAUTH_PATHS, openidConfiguration, PLAIN_HTTP, type ServerFeatures } from './discovery.js';
export { TokenOperations, type IntrospectionResponse, type TokenOpsDeps, type TokenOpsRequest } from './introspection.js';
export { MAX_EXCHANGE_DEPTH, TokenLineage, type Standing, type TokenLineageOptions, type TokenParent } from './lineage.js';
export { oauthMigrations } from './migrations.js';
export {
  activeFamiliesOf,
  refreshFamilyByDigest,
  RefreshTokenService,
  revokeClientFamiliesIn,
  revokeFamilyIn,
  type Grant,
  type RefreshFamilyHolder,
} from './refresh-tokens.js';
export { TokenEndpoint, type TokenEndpointDeps, type TokenRequest } from './token-endpoint.js';
export { oauthOffboarding } from './offboarding.js';
