import type { Logger } from 'pino';
import type { Keyturn } from './open.js';

/**
 * Periodic work of one node: scheduled signing key rotation (the database lets exactly one node
 * win each rotation) and pruning of expired token rows. Returns the function that stops it.
 */
export function startHousekeeping(kt: Keyturn, logger: Logger): () => void {
  const rotationMs = kt.config.signing.rotation;
  const tickMs = Math.min(Math.max(Math.floor(rotationMs / 10), 1_000), 3_600_000);
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const rotated = await kt.oauth.ring.rotate({ onlyIfOlderThan: rotationMs });
      if (rotated.length > 0) logger.info({ activated: rotated }, 'signing keys rotated on schedule');
      await kt.oauth.accessTokens.prune();
    } catch (err) {
      logger.error({ err }, 'housekeeping failed');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), tickMs);
  timer.unref();
  void tick();
  return () => clearInterval(timer);
}
