import type { Logger } from 'pino';
import { pruneEvents, type EventRetention } from '../audit/events.js';
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
  readonly logger?: Logger | undefined;
  /** Signs webhooks that name an endpoint (Standard Webhooks); none: sent unsigned. */
  readonly webhookSigner?: WebhookSigner;
}

/**
 * Pruning of expired rows: access tokens expired for a day, settled outbox messages after a week,
 * events beyond their retention (`audit.eventRetention`, `audit.eventMaxCount`; none without
 * `retention`). A run that left events to delete runs again at once.
 */
export function pruneJob(
  parts: Pick<HousekeepingParts, 'accessTokens' | 'lineage' | 'outbox'> & { readonly store?: Store; readonly ctx?: Context; readonly retention?: EventRetention },
  everyMs = 3_600_000,
): JobDefinition {
  return {
    name: PRUNE_JOB,
    everyMs,
    run: async () => {
      await parts.accessTokens.prune();
      await parts.lineage?.prune();
      await parts.outbox.prune(OUTBOX_RETENTION_MS);
      if (parts.store && parts.ctx && parts.retention) {
        const now = parts.ctx.now();
        const { more } = await pruneEvents(parts.store, now.getTime(), parts.retention);
        if (more) return { nextRunAt: now };
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
  outbox.deliverer(
    'webhook',
    webhookDeliverer({ timeoutMs: config.leaks.webhookTimeout, egress: new EgressGuard({ allow: config.server.egressAllow }), now: () => parts.ctx.now(), ...(parts.webhookSigner ? { signer: parts.webhookSigner } : {}) }),
  );
  await outbox.attach(runner);
}
