import type { Logger } from 'pino';
import { EVENTS_CHANNEL, type EventRetention } from '../audit/events.js';
import type { AuditLog } from '../audit/log.js';
import { EgressGuard, webhookDeliverer, type JobDefinition, type JobRunner, type Outbox, type WebhookSigner } from '../jobs/index.js';
import { watchJob, type WatchService } from '../leaks/watch.js';
import type { AccessTokenService } from '../oauth/access-tokens.js';
import type { TokenLineage } from '../oauth/lineage.js';
import { signingRotationJob } from '../signing/schedule.js';
import type { SigningKeyRing } from '../signing/ring.js';
import type { Config } from '../config/schema.js';
import type { Context } from '../core/context.js';
import type { Store } from '../store/port.js';

/** The runner's name for pruning expired rows. */
export const PRUNE_JOB = 'housekeeping.prune';

/** Delivered and dead outbox messages (and their delivery log) are kept this long. */
export const OUTBOX_RETENTION_MS = 7 * 86_400_000;

/** What the background jobs of one node work on. */
export interface HousekeepingParts {
  readonly config: Config;
  readonly store: Store;
  readonly ctx: Context;
  readonly runner: JobRunner;
  readonly outbox: Outbox;
  readonly ring: SigningKeyRing;
  readonly accessTokens: AccessTokenService;
  /** Exchanged tokens' parents, pruned with the access tokens' rows. */
  readonly lineage?: Pick<TokenLineage, 'prune'> | undefined;
  readonly watches: WatchService;
  /** The tamper-evident log: checkpoints, and pruning that keeps what remains verifiable. */
  readonly auditLog: AuditLog;
  readonly logger?: Logger | undefined;
  /** Signs webhooks that name an endpoint (Standard Webhooks); none: sent unsigned. */
  readonly webhookSigner?: WebhookSigner;
}

/** The runner's name for sealing the audit log into a signed checkpoint. */
export const CHECKPOINT_JOB = 'audit.checkpoint';

/**
 * Sealing the audit log: every `everyMs` (the job runs on one node at a time) and, through
 * {@link checkpointNudge}, once a node has appended `audit.checkpointEvery` events.
 */
export function checkpointJob(log: AuditLog, everyMs: number, logger?: Logger): JobDefinition {
  return {
    name: CHECKPOINT_JOB,
    everyMs,
    run: async () => {
      const made = await log.checkpoint();
      if (made) logger?.debug({ size: made.size, lastSeq: made.lastSeq }, 'audit checkpoint signed');
    },
  };
}

/** Counts the events committed on this node and nudges the checkpoint job every `every` of them. */
export function checkpointNudge(store: Store, runner: JobRunner, every: number): () => void {
  let count = 0;
  return store.subscribe(EVENTS_CHANNEL, (payload) => {
    if (payload === null) return;
    count += 1;
    if (count >= every) {
      count = 0;
      runner.nudge(CHECKPOINT_JOB);
    }
  });
}

/**
 * Pruning of expired rows: access tokens expired for a day, settled outbox messages after a week,
 * events beyond their retention (`audit.eventRetention`, `audit.eventMaxCount`; none without
 * `retention`). A run that left events to delete runs again at once.
 */
export function pruneJob(
  parts: Pick<HousekeepingParts, 'accessTokens' | 'lineage' | 'outbox'> & { readonly auditLog?: AuditLog; readonly retention?: EventRetention },
  everyMs = 3_600_000,
): JobDefinition {
  return {
    name: PRUNE_JOB,
    everyMs,
    run: async () => {
      await parts.accessTokens.prune();
      await parts.lineage?.prune();
      await parts.outbox.prune(OUTBOX_RETENTION_MS);
      if (parts.auditLog && parts.retention) {
        const { more } = await parts.auditLog.prune(parts.retention);
        if (more) return { nextRunAt: new Date(0) };
      }
      return undefined;
    },
  };
}

/**
 * Registers this node's background work on the job runner: scheduled signing key rotation, pruning
 * of expired rows, the leak watch scheduler (unless `watchTick` is 0 on this node) and outbox
 * delivery (webhooks). Each job runs on one node of the cluster at a time; `runner.start()` starts them.
 */
export async function registerJobs(parts: HousekeepingParts): Promise<void> {
  const { config, runner, outbox } = parts;
  const rotationMs = config.signing.rotation;
  await runner.register(signingRotationJob(parts.ring, rotationMs, parts.logger));
  const retention = { maxAgeMs: config.audit.eventRetention, maxCount: config.audit.eventMaxCount };
  await runner.register(pruneJob({ ...parts, retention }, Math.min(Math.max(Math.floor(rotationMs / 10), 1_000), 3_600_000)));
  if (config.leaks.watchTick > 0) await runner.register(watchJob(parts.watches, config.leaks.watchTick));
  const { checkpointEvery, checkpointInterval } = config.audit;
  if (checkpointEvery > 0 || checkpointInterval > 0) {
    // A job needs an interval: with the timer off, the nudges alone make checkpoints.
    await runner.register(checkpointJob(parts.auditLog, checkpointInterval > 0 ? checkpointInterval : 86_400_000, parts.logger));
  }
  outbox.deliverer(
    'webhook',
    webhookDeliverer({ timeoutMs: config.leaks.webhookTimeout, egress: new EgressGuard({ allow: config.server.egressAllow }), now: () => parts.ctx.now(), ...(parts.webhookSigner ? { signer: parts.webhookSigner } : {}) }),
  );
  await outbox.attach(runner);
}
