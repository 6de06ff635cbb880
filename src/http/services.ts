import type { AuditEvent, EventQuery, RequestMeta } from '../audit/events.js';
import type { AggregatedFailure } from '../audit/failure-log.js';
import type { SinkStatus } from '../audit/sinks/dispatcher.js';
import type { StoredSinkView } from '../audit/sinks/registry.js';
import type { UsageSummary } from '../audit/usage.js';
import type { IdKind } from '../core/ids.js';
import type { KeyService } from '../keys/service.js';
import type { GitHubKeys } from '../leaks/respond/index.js';
import type { LeakResponder } from '../leaks/respond/index.js';
import type { WatchService } from '../leaks/watch.js';
import type { ClientService } from '../oauth/clients.js';
import type { ServerFeatures } from '../oauth/discovery.js';
import type { TokenOperations } from '../oauth/introspection.js';
import type { RefreshTokenService } from '../oauth/refresh-tokens.js';
import type { TokenEndpoint } from '../oauth/token-endpoint.js';
import type { FailureRates } from './rate-limit.js';
import type { OffboardingService } from '../principals/index.js';
import type { PrincipalService } from '../principals/service.js';
import type { PolicyService, WebhookService } from '../rotation/index.js';
import type { SigningKeyRing } from '../signing/ring.js';

/** The OAuth 2.0 authorization server's parts, as the edge uses them. */
export interface OAuthServices {
  readonly clients: ClientService;
  readonly ring: SigningKeyRing;
  readonly refreshTokens: RefreshTokenService;
  readonly tokenEndpoint: TokenEndpoint;
  readonly tokenOps: TokenOperations;
  /** DPoP: the nonce to hand out with every token answer (`DPoP-Nonce`), when nonces are required. */
  readonly dpop?: { nonce(): string | undefined } | undefined;
  /** The issuer URL (RFC 8414): configured, or the URL the server listens on once it listens. */
  issuer(): string;
}

/** Leak watch: the response to findings, the watch jobs, GitHub's signing keys. */
export interface LeakServices {
  readonly response: LeakResponder;
  readonly watches: WatchService;
  readonly githubKeys: GitHubKeys;
}

/** The audit log, read side. */
export interface AuditServices {
  /** Events in log order, filtered. */
  list(query: EventQuery): Promise<AuditEvent[]>;
  /** Records a failure event, aggregated (the first of a burst in full, the rest in a summary). */
  recordFailure?(input: AggregatedFailure, meta: RequestMeta): Promise<boolean>;
  /** When a credential was last used and from where (its usage records). */
  usage(credential: string): Promise<UsageSummary>;
  /** The highest sequence number in the log (0 when empty). */
  lastSeq(): Promise<number>;
  /** Every audit sink's cursor and state. */
  sinks(): Promise<SinkStatus[]>;
  /** Lifts a sink's backoff: it is tried at its next run. */
  retrySink(name: string): Promise<void>;
  /** Adds a sink (admin API); a webhook sink's secret is in the answer, once. */
  addSink(input: unknown, meta: RequestMeta): Promise<{ sink: StoredSinkView; secret?: string }>;
  /** One sink: a stored one's settings (never its secret) and state, or a configured one's state. */
  showSink(name: string): Promise<Record<string, unknown>>;
  /** Changes a stored sink's settings. */
  updateSink(name: string, input: unknown, meta: RequestMeta): Promise<{ sink: StoredSinkView; secret?: string }>;
  /** Removes a stored sink and its cursor. */
  removeSink(name: string, meta: RequestMeta): Promise<StoredSinkView>;
}

/** Whether this node can serve: the store answers. */
export interface HealthService {
  ready(): Promise<boolean>;
}

/**
 * What the HTTP edge may use: services, each a capability's public face. Routes receive this,
 * never the store, the context or the whole configuration; the runtime builds it (one place:
 * `buildServices` in `src/runtime/open.ts`).
 */
export interface Services {
  readonly principals: PrincipalService;
  /** Offboarding people: plan, record, run (a durable job). */
  readonly offboarding: OffboardingService;
  readonly keys: KeyService;
  /** Stored lifetime policies. */
  readonly policies: PolicyService;
  /** Signed webhooks to owners: endpoints, delivery log, replay. */
  readonly webhooks: WebhookService;
  readonly oauth: OAuthServices;
  readonly leaks: LeakServices;
  readonly audit: AuditServices;
  readonly health: HealthService;
  /** Milliseconds since the epoch, from the process's clock (tests freeze it). */
  now(): number;
  /** A fresh identifier of `kind` (e.g. the per-process stem of request ids). */
  newId(kind: IdKind): string;
}

/** The part of the configuration the HTTP edge reads. */
export interface HttpConfig {
  /** Largest accepted request body, in bytes. */
  readonly bodyLimit: number;
  /** Proxies trusted to name the client in `X-Forwarded-For`: `0` none, a hop count, or their networks. */
  readonly trustProxy: number | readonly string[];
  /** Change streams one source network may hold open at once. */
  readonly changeStreamsPerSource: number;
  /** Change streams this process holds open at once. */
  readonly changeStreamsMax: number;
  /** Log requests (hot endpoints: sampled, see `src/http/hot/log.ts`). */
  readonly logRequests: boolean;
  /** Public leak reports accepted per minute per source address. */
  readonly leakReportRate: number;
  /** Failed authentications accepted per minute per source network, per kind (see `FailureLimits`). */
  readonly failedAuthRates: FailureRates;
  /** How long a 429 answer to a failed authentication is held (ms). */
  readonly failureDelayMs: number;
  /** Base URL of the separate mTLS listener (`mtlsPort`), once it listens; for `mtls_endpoint_aliases`. */
  readonly mtlsBaseUrl?: () => string | undefined;
  /** What discovery may advertise: how client certificates reach keyturn, and whether DPoP is on (default: plain HTTP with DPoP). */
  readonly discovery?: Omit<ServerFeatures, 'mtlsBase'>;
  /** Behind a TLS-terminating proxy: which header carries the client certificate, and whose is believed. */
  readonly clientCert?: { readonly header: 'none' | 'client-cert' | 'xfcc'; readonly proxies: readonly string[] };
}
