import { join } from 'node:path';
import type { Logger } from 'pino';
import { lastEventSeq, listEvents, SYSTEM } from '../audit/events.js';
import { FailureLog } from '../audit/failure-log.js';
import { AuditLog, logKeyFromMaster } from '../audit/log.js';
import { DetectionEngine } from '../audit/detections/engine.js';
import { PRODUCT } from '../audit/sinks/product.js';
import { buildSink, type SinkSpec } from '../audit/sinks/sink.js';
import { SinkDispatcher } from '../audit/sinks/dispatcher.js';
import { checkConfiguredWebhooks, configuredSinkOptions, SinkRegistry, type SinkEgress } from '../audit/sinks/registry.js';
import { pruneUsage, UsageLog, usageJobName, usageOf } from '../audit/usage.js';
import { auditMigrations } from '../audit/migrations.js';
import { bindingMigrations, DpopService } from '../binding/index.js';
import { openRedisReplay, type RedisReplay } from './dpop-redis.js';
import type { Config } from '../config/schema.js';
import { systemContext, type Context } from '../core/context.js';
import { KeyturnError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Services } from '../http/services.js';
import { keyMigrations } from '../keys/migrations.js';
import { KeyService, type KeyLifecycleEvent } from '../keys/service.js';
import { EgressGuard, jobMigrations, JobRunner, Outbox } from '../jobs/index.js';
import { leakMigrations } from '../leaks/migrations.js';
import { clientLeakGuard, GitHubKeys, keyLeakGuard, LEAK_NOTIFICATION_TOPICS, LeakResponder } from '../leaks/respond/index.js';
import { WATCH_JOB, WatchService } from '../leaks/watch.js';
import { principalMigrations } from '../principals/migrations.js';
import { offboardingJob, OffboardingService, OFFBOARDING_JOB } from '../principals/index.js';
import { PrincipalService } from '../principals/service.js';
import { AccessTokenService, lastExpiryOfKid } from '../oauth/access-tokens.js';
import { ClientAuthenticator } from '../oauth/client-auth.js';
import { ClientService, disableClientIn } from '../oauth/clients.js';
import { TokenOperations } from '../oauth/introspection.js';
import { oauthMigrations } from '../oauth/migrations.js';
import { RefreshTokenService, revokeFamilyIn } from '../oauth/refresh-tokens.js';
import { TokenLineage } from '../oauth/lineage.js';
import { TokenEndpoint } from '../oauth/token-endpoint.js';
import { oauthOffboarding } from '../oauth/offboarding.js';
import { KeyEncryption } from '../signing/kek.js';
import { signingMigrations } from '../signing/migrations.js';
import { SigningKeyRing, type SigningAlg } from '../signing/ring.js';
import { PolicyService, rotationJob, rotationMigrations, WebhookService, type WebhookEvent } from '../rotation/index.js';
import { openStore } from '../store/open.js';
import type { Migration, Store } from '../store/port.js';
import { storeHealth } from './health.js';
import { checkpointNudge, registerJobs } from './housekeeping.js';
import { deriveKey } from '../core/fingerprint.js';
import { loadMasterKey } from './master-key.js';
import { assertPrivateFiles } from './permissions.js';

/** Every migration, in order. Each capability owns its own; ids are numbered globally. */
export const MIGRATIONS: readonly Migration[] = [
  ...auditMigrations,
  ...principalMigrations,
  ...keyMigrations,
  ...leakMigrations,
  ...signingMigrations,
  ...oauthMigrations,
  ...jobMigrations,
  ...rotationMigrations,
  ...bindingMigrations,
].sort((a, b) => (a.id < b.id ? -1 : 1));

/** The OAuth 2.0 authorization server's parts. */
export interface OAuth {
  readonly clients: ClientService;
  readonly ring: SigningKeyRing;
  readonly accessTokens: AccessTokenService;
  readonly refreshTokens: RefreshTokenService;
  /** Exchanged tokens' parents (RFC 8693): what makes a descendant fall with its source. */
  readonly lineage: TokenLineage;
  readonly tokenEndpoint: TokenEndpoint;
  readonly tokenOps: TokenOperations;
  /** DPoP (RFC 9449) at the token endpoint: proofs, nonces, the shared replay store. */
  readonly dpop: DpopService;
}

/** Leak watch: the response to findings, the watch jobs, GitHub's signing keys. */
export interface Leaks {
  readonly response: LeakResponder;
  readonly watches: WatchService;
  readonly githubKeys: GitHubKeys;
}

/** Background work: the job runner (started by the server) and the durable outbox. */
export interface Jobs {
  readonly runner: JobRunner;
  readonly outbox: Outbox;
}

/** The audit parts the runtime starts and stops. */
export interface AuditRuntime {
  /** `undefined` when usage records are off (`audit.usageInterval` 0). */
  readonly usage: UsageLog | undefined;
  readonly sinks: SinkDispatcher;
  /** The sinks added through the admin API (beside the configuration file's). */
  readonly sinkRegistry: SinkRegistry;
  /** `undefined` when detections are off. */
  readonly detections: DetectionEngine | undefined;
}

export { PRODUCT } from '../audit/sinks/product.js';

/**
 * One keyturn process wired to one store: the {@link Services} the edges use, and beside them
 * what only the runtime (and tests) may hold — the store, the context, the configuration, the jobs.
 */
export interface Keyturn {
  readonly config: Config;
  readonly ctx: Context;
  readonly store: Store;
  /** What the HTTP edge receives: services only. */
  readonly services: Services;
  readonly principals: PrincipalService;
  readonly offboarding: OffboardingService;
  readonly keys: KeyService;
  readonly policies: PolicyService;
  /** Signed webhooks to owners: endpoints, fan-out, delivery log. */
  readonly webhooks: WebhookService;
  readonly leaks: Leaks;
  readonly oauth: OAuth;
  readonly jobs: Jobs;
  /** Failed authentications, aggregated (summaries are written as groups close, and at {@link close}). */
  readonly failures: FailureLog;
  /** The tamper-evident audit log: signed checkpoints, verification-preserving pruning. */
  readonly auditLog: AuditLog;
  /** Audit streaming: successful uses counted per interval, the sinks, the detection engine. */
  readonly audit: AuditRuntime;
  /** The OAuth issuer: configured, or the URL the server listens on (set once it listens). */
  issuer(): string;
  setIssuer(url: string): void;
  close(): Promise<void>;
}

/**
 * The one place the edge's {@link Services} are built from the wired parts.
 */
function buildServices(parts: {
  store: Store;
  ctx: Context;
  principals: PrincipalService;
  offboarding: OffboardingService;
  keys: KeyService;
  policies: PolicyService;
  webhooks: WebhookService;
  leaks: Leaks;
  oauth: OAuth;
  issuer: () => string;
  failures?: FailureLog;
  audit: AuditRuntime;
}): Services {
  const { store, ctx, oauth, leaks } = parts;
  const services: Services = {
    principals: parts.principals,
    offboarding: parts.offboarding,
    keys: parts.keys,
    policies: parts.policies,
    webhooks: parts.webhooks,
    oauth: {
      clients: oauth.clients,
      ring: oauth.ring,
      refreshTokens: oauth.refreshTokens,
      tokenEndpoint: oauth.tokenEndpoint,
      tokenOps: oauth.tokenOps,
      dpop: oauth.dpop,
      issuer: parts.issuer,
    },
    leaks: {
      response: leaks.response,
      watches: leaks.watches,
      githubKeys: leaks.githubKeys,
    },
    audit: {
      list: (query) => listEvents(store, query),
      ...(parts.failures ? { recordFailure: parts.failures.record.bind(parts.failures) } : {}),
      lastSeq: () => lastEventSeq(store),
      usage: (credential) => usageOf(store, credential),
      sinks: () => parts.audit.sinks.status(),
      retrySink: (name) => parts.audit.sinks.retryNow(name),
      addSink: async (input, meta) => {
        const added = await parts.audit.sinkRegistry.add(input, meta);
        await parts.audit.sinks.sync();
        return added;
      },
      showSink: async (name) => {
        const status = (await parts.audit.sinks.status()).find((s) => s.name === name && s.origin !== null);
        if (status?.origin === 'config') return { name, kind: status.kind, origin: 'config', status };
        const sink = await parts.audit.sinkRegistry.get(name);
        return { ...sink, status: status ?? null };
      },
      updateSink: async (name, input, meta) => {
        if (parts.audit.sinks.configuredNames.has(name)) throw new KeyturnError('ERR_CONFLICT', `audit sink ${name} comes from the configuration file: change it there`);
        const updated = await parts.audit.sinkRegistry.update(name, input, meta);
        await parts.audit.sinks.sync();
        return updated;
      },
      removeSink: async (name, meta) => {
        const removed = await parts.audit.sinkRegistry.remove(name, meta);
        await parts.audit.sinks.sync();
        return removed;
      },
    },
    health: storeHealth(store),
    now: () => ctx.now().getTime(),
    newId: (kind) => newId(kind, ctx),
  };
  return Object.freeze(services);
}

/** A key event as its owner's webhooks carry it: the key's id, name, display start, status and policy, never a secret. */
function keyWebhookEvent(event: KeyLifecycleEvent): WebhookEvent {
  return {
    type: event.type,
    principal: event.key.principal,
    subject: event.key.id,
    data: { key: { id: event.key.id, name: event.key.name, start: event.key.start, status: event.key.status, policy: event.key.policyName }, ...event.data },
  };
}

/** Opens the store named in `config`, runs migrations and wires the services. */
export async function openKeyturn(config: Config, options: { ctx?: Context; logger?: Logger } = {}): Promise<Keyturn> {
  const ctx = options.ctx ?? systemContext;
  const logger = options.logger;
  const store = await openStore(config.store.db, config.server.dataDir, {
    onFeedError: (err) => logger?.warn({ err }, 'change feed interrupted'),
    sqliteSynchronous: config.store.sqliteSynchronous,
    poolSize: config.store.poolSize,
  });
  try {
    assertPrivateFiles(config, logger);
    const applied = await store.migrate(MIGRATIONS);
    if (applied.length > 0) logger?.info({ applied }, 'migrations applied');
  } catch (err) {
    await store.close();
    throw err;
  }
  let masterKey: Uint8Array;
  try {
    masterKey = loadMasterKey(config);
  } catch (err) {
    await store.close();
    throw err;
  }
  // Fingerprints of found non-keyturn secrets are HMACs under this key (never plain hashes).
  const fingerprintKey = deriveKey(masterKey, 'leak-fingerprints/v1');
  // Events name new secrets (API keys, client secrets, refresh tokens) by an HMAC under this salt
  // (`hmac-sha256:`), never by the secret: a leaked one is matched to its events without storing it.
  const eventSalt = deriveKey(masterKey, 'event-fingerprints/v1');
  let issuerUrl = config.oauth.issuer?.replace(/\/+$/, '') ?? `http://${config.server.host}:${config.server.port}`;
  const issuer = () => issuerUrl;
  const runner = new JobRunner({ store, ctx, ...(logger ? { logger } : {}) });
  const jobs: Jobs = { runner, outbox: new Outbox({ store, ctx, nodeId: runner.nodeId, ...(logger ? { logger } : {}) }) };
  const egress = new EgressGuard({ allow: config.server.egressAllow });
  const policies = new PolicyService({ store, ctx, defaultName: config.rotation.defaultPolicy });
  let kek: KeyEncryption;
  try {
    kek = new KeyEncryption(masterKey, ctx);
    await policies.load();
  } catch (err) {
    policies.close();
    await store.close();
    throw err;
  }
  const principals = new PrincipalService(store, ctx, { egress, policies });
  // Key events reach the owners' endpoints through one hook, in the transaction of the change.
  const webhooks = new WebhookService({ store, ctx, outbox: jobs.outbox, sealer: kek, principals, egress });
  // Before the leak notifier's observer of the same topic (observers run in registration order): the endpoint's health
  // row is updated before any event of the attempt is appended, as every change does (the audit head is locked last).
  webhooks.observe(LEAK_NOTIFICATION_TOPICS.owner);
  // One failure log per process: failed authentications everywhere are aggregated, summaries written at close.
  const failures = new FailureLog({ store, ctx, windowMs: config.audit.failureWindow, maxGroups: config.audit.failureMaxGroups, logger });
  // Successful uses, counted in memory and written per interval by this node's own job.
  const usage = config.audit.usageInterval > 0 ? new UsageLog({ store, ctx, intervalMs: config.audit.usageInterval }) : undefined;
  let sinks: SinkDispatcher;
  let sinkRegistry: SinkRegistry;
  const sinkEgress: SinkEgress = { check: (url, what) => egress.check(url, what), checkHost: (host, what) => egress.checkHost(host, what), lookup: egress.lookup as SinkEgress['lookup'] };
  try {
    const configured: ReadonlySet<string> = new Set(config.audit.sinks.map((spec) => spec.name));
    sinkRegistry = new SinkRegistry({
      store,
      ctx,
      sealer: kek,
      product: PRODUCT,
      fileDir: join(config.server.dataDir, 'audit'),
      reserved: () => configured,
      // Sinks added through the API connect only where webhooks may (egressAllow), checked again at each connection.
      egress: sinkEgress,
    });
    // Webhook sinks of the configuration file go through the same guard: at start (refused, naming the sink) and at each connection.
    const specs = config.audit.sinks as readonly SinkSpec[];
    await checkConfiguredWebhooks(specs, sinkEgress);
    sinks = new SinkDispatcher({ store, ctx, sinks: specs.map((spec) => buildSink(spec, PRODUCT, configuredSinkOptions(spec, sinkEgress))), logger, stored: sinkRegistry.stored });
  } catch (err) {
    policies.close();
    await store.close();
    throw err;
  }
  const keys = new KeyService({
    store,
    ctx,
    principals,
    prefix: config.keys.prefix,
    cacheMaxEntries: config.keys.cacheMaxEntries,
    cacheMaxAgeMs: config.keys.cacheMaxAge,
    failures,
    leakGuard: keyLeakGuard(ctx),
    // Events name new secrets by an HMAC under this salt (`hmac-sha256:`), never by the secret.
    eventSalt,
    policies,
    sealer: kek,
    onEvent: (tx, event) => webhooks.fanOut(tx, keyWebhookEvent(event)),
    // A chunk of scheduled rotations: the owners' endpoints read once, not once per key.
    onEvents: (tx, events) => webhooks.fanOutMany(tx, events.map(keyWebhookEvent)),
    rotationShare: config.rotation.share,
    ...(usage ? { usage } : {}),
  });
  policies.countWith((name) => keys.policyCounts(name));
  const detectionSettings = config.audit.detections;
  const detections = detectionSettings.enabled
    ? new DetectionEngine({
        store,
        ctx,
        settings: detectionSettings,
        suspendOn: detectionSettings.suspendOn,
        suspendKey: async (id, reason) => void (await keys.suspend(id, SYSTEM, reason)),
        // A stolen DPoP-bound refresh token: its family goes with its access tokens (`grant.revoked`).
        revokeGrant: (id, reason) => store.transaction((tx) => revokeFamilyIn(tx, ctx, id, reason, SYSTEM)),
        // A client that authenticated and then failed its binding: disabled (`client.disabled`) until an admin enables it.
        disableClient: (id, reason) => store.transaction((tx) => disableClientIn(tx, ctx, id, reason, SYSTEM)),
        logger,
      })
    : undefined;
  const audit: AuditRuntime = { usage, sinks, sinkRegistry, detections };
  const response = new LeakResponder({
    store,
    ctx,
    keys,
    mode: config.leaks.response,
    suspendLastAdmin: config.leaks.suspendLastAdmin,
    fingerprintKey,
    outbox: jobs.outbox,
    ownerWebhooks: {
      async notify(tx, owner, target, payload) {
        if (owner.legacyUrl !== null) await webhooks.adoptIn(tx, owner.principal, owner.legacyUrl);
        return webhooks.fanOut(tx, { type: 'key.leaked', principal: owner.principal, subject: target, data: { ...payload } }, { topic: LEAK_NOTIFICATION_TOPICS.owner });
      },
    },
    ...(config.leaks.webhookUrl ? { webhookUrl: config.leaks.webhookUrl } : {}),
    ...(logger ? { logger } : {}),
  });
  const leaks: Leaks = {
    response,
    watches: new WatchService({
      store,
      ctx,
      responder: response,
      fingerprintKey,
      nodeId: runner.nodeId,
      wake: (db) => runner.triggerIn(db, WATCH_JOB),
      egress,
      ...(logger ? { logger } : {}),
    }),
    githubKeys: new GitHubKeys({ url: config.leaks.githubKeysUrl, now: () => ctx.now().getTime() }),
  };
  let ring: SigningKeyRing;
  try {
    ring = new SigningKeyRing({
      store,
      ctx,
      sealer: kek,
      algs: [...config.signing.algs] as SigningAlg[],
      lastExpiry: lastExpiryOfKid,
    });
    await ring.ensure();
  } catch (err) {
    keys.close();
    policies.close();
    await store.close();
    throw err;
  }
  const clients = new ClientService({
    store,
    ctx,
    principals,
    secretPrefix: config.oauth.clientSecretPrefix,
    defaultAudience: issuer,
    policies,
    leakGuard: clientLeakGuard(ctx),
    sealer: kek,
    rotationShare: config.rotation.share,
    // The scheduler's notices of client secrets reach the owners' endpoints like those of keys.
    onEvent: (tx, event) => webhooks.fanOut(tx, { type: event.type, principal: event.client.principal, subject: event.client.id, data: { client: event.client, ...event.data } }),
    eventSalt,
  });
  policies.countWith((name) => clients.policyCounts(name));
  const authenticator = new ClientAuthenticator(clients, store, ctx, failures, usage);
  const accessTokens = new AccessTokenService({ store, ctx, ring, issuer, opaquePrefix: config.oauth.accessTokenPrefix });
  const refreshTokens = new RefreshTokenService(store, ctx, config.oauth.refreshTokenPrefix, { eventSalt, ...(usage ? { usage } : {}) });
  const lineage = new TokenLineage({ store, ctx, clients, keys, accessTokens });
  let redisReplay: RedisReplay | undefined;
  if (config.oauth.dpopReplayStore === 'redis') {
    try {
      if (config.oauth.dpopRedisUrl === undefined) throw new KeyturnError('ERR_CONFIG', 'dpopReplayStore redis needs dpopRedisUrl');
      // Only the message: an ioredis error object can carry its options, the URL's password among them.
      redisReplay = await openRedisReplay(config.oauth.dpopRedisUrl, { onError: (err) => logger?.warn({ err: { message: err.message } }, 'DPoP replay store (Redis) connection error') });
    } catch (err) {
      keys.close();
      policies.close();
      clients.close();
      ring.close();
      await store.close();
      throw err;
    }
  }
  const dpop = new DpopService({
    ...(redisReplay === undefined ? {} : { replay: redisReplay.replay }),
    store,
    ctx,
    failures,
    // Every node derives the same nonce key from the shared master key, unless one is configured.
    nonceSecret: config.oauth.dpopNonceSecret === undefined ? deriveKey(masterKey, 'dpop-nonces/v1') : parseSecretSetting(config.oauth.dpopNonceSecret),
    requireNonce: config.oauth.dpopNonce,
    maxAgeSec: Math.floor(config.oauth.dpopProofMaxAge / 1000),
  });
  const oauth: OAuth = {
    clients,
    ring,
    accessTokens,
    refreshTokens,
    lineage,
    tokenEndpoint: new TokenEndpoint({ store, ctx, issuer, authenticator, accessTokens, refreshTokens, principals, keys, lineage, dpop: config.oauth.dpop ? dpop : undefined }),
    tokenOps: new TokenOperations({ store, ctx, issuer, authenticator, clients, accessTokens, refreshTokens, keys, lineage }),
    dpop,
  };
  // The checkpoint key comes from the master key, never from the database (see src/audit/log.ts).
  const auditLog = new AuditLog({ store, ctx, key: logKeyFromMaster(masterKey, config.audit.logOrigin) });
  let stopNudge: () => void = () => undefined;
  const offboarding = new OffboardingService({
    store,
    ctx,
    principals,
    participants: [keys.offboarding(), oauthOffboarding(ctx, clients)],
    wake: (db) => runner.triggerIn(db, OFFBOARDING_JOB),
  });
  try {
    await runner.register(offboardingJob(offboarding, 30_000));
    await registerJobs({ config, store, ctx, ...jobs, ring, accessTokens, lineage, watches: leaks.watches, auditLog, logger, webhookSigner: webhooks.signer });
    if (config.audit.checkpointEvery > 0) stopNudge = checkpointNudge(store, runner, config.audit.checkpointEvery);
    if (config.rotation.tick > 0) await runner.register(rotationJob([keys, clients], config.rotation.tick, logger, { noticeWindowMs: config.rotation.notice }));
    if (usage) {
      await runner.register({
        name: usageJobName(runner.nodeId),
        everyMs: usage.intervalMs,
        run: async () => {
          await usage.flush();
          // Usage records are kept as long as events are.
          if (config.audit.eventRetention > 0) await pruneUsage(store, ctx.now().getTime() - config.audit.eventRetention);
        },
      });
    }
    await sinks.register(runner);
    await detections?.register(runner);
  } catch (err) {
    keys.close();
    policies.close();
    clients.close();
    ring.close();
    await redisReplay?.close();
    await store.close();
    throw err;
  }
  const services = buildServices({ store, ctx, principals, offboarding, keys, policies, webhooks, leaks, oauth, issuer, failures, audit });
  return {
    config,
    ctx,
    store,
    services,
    principals,
    offboarding,
    keys,
    policies,
    webhooks,
    leaks,
    oauth,
    jobs,
    failures,
    auditLog,
    audit,
    issuer,
    setIssuer(url: string) {
      if (!config.oauth.issuer) issuerUrl = url.replace(/\/+$/, '');
    },
    async close() {
      stopNudge();
      await runner.stop();
      // Before the store closes: the summaries of open failure groups are written, no count lost.
      await failures.close().catch((err: unknown) => logger?.warn({ err }, 'writing failure summaries at close failed'));
      await usage?.flush().catch((err: unknown) => logger?.warn({ err }, 'writing usage records at close failed'));
      detections?.close();
      await sinks.close();
      jobs.outbox.close();
      await leaks.watches.stop();
      await leaks.response.idle();
      keys.close();
      policies.close();
      clients.close();
      ring.close();
      await redisReplay?.close();
      await store.close();
    },
  };
}

/** A secret setting given as hex (64+ digits) or base64url (43+ characters). */
function parseSecretSetting(text: string): Uint8Array {
  return /^[0-9a-fA-F]{64,}$/.test(text) && text.length % 2 === 0 ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64url');
}
