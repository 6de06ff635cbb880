import type { JobDefinition, JobLogger } from '../jobs/index.js';
import type { SigningKeyRing } from './ring.js';

/** The job runner's name for scheduled signing key rotation. */
export const SIGNING_ROTATION_JOB = 'signing.rotate';

/**
 * The runner job that rotates each algorithm's active signing key once it is `rotationMs` old. It
 * looks every tenth of the interval (between a second and an hour), so a key is never used much past
 * its time; one node runs the job at a time, and the ring's conditional update still lets exactly
 * one rotation win should two ever overlap.
 *
 * @example
 * ```ts
 * await runner.register(signingRotationJob(ring, 30 * 86_400_000, logger));
 * ```
 */
export function signingRotationJob(ring: SigningKeyRing, rotationMs: number, logger?: Pick<JobLogger, 'info'>): JobDefinition {
  return {
    name: SIGNING_ROTATION_JOB,
    everyMs: Math.min(Math.max(Math.floor(rotationMs / 10), 1_000), 3_600_000),
    run: async () => {
      const rotated = await ring.rotate({ onlyIfOlderThan: rotationMs });
      if (rotated.length > 0) logger?.info({ activated: rotated }, 'signing keys rotated on schedule');
    },
  };
}
