import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseVerifierKey, type NoteVerifier } from '../audit/checkpoint.js';
import { logHead } from '../audit/events.js';
import { logKeyFromMaster, verifyLog, type LogReport } from '../audit/log.js';
import type { Config } from '../config/schema.js';
import { KeyturnError } from '../core/errors.js';
import { loadMasterKey } from './master-key.js';
import { openDirect } from './recover.js';

/** How `keyturn audit verify` checks the log. */
export interface AuditVerifyOptions {
  /** Verifier keys (`<name>+<id>+<key>`) to trust instead of the one derived from the master key. */
  readonly vkeys?: readonly string[];
  /** Signed checkpoints kept outside keyturn, as note texts. */
  readonly checkpoints?: readonly string[];
}

/** The log's key as the deployment holds it: derived from the master key, which must already exist. */
function deploymentKey(config: Config): { origin: string; verifier: NoteVerifier; vkey: string } {
  if (!config.signing.masterKey && !existsSync(join(resolve(config.server.dataDir), 'master.key'))) {
    throw new KeyturnError('ERR_CONFIG', `no master key in ${resolve(config.server.dataDir)} (give --data-dir, KEYTURN_MASTER_KEY, or the log's verifier key with --vkey)`);
  }
  return logKeyFromMaster(loadMasterKey(config), config.audit.logOrigin);
}

/** The verifier key of this deployment's audit log (what a witness or security team keeps). */
export function auditVerifierKey(config: Config): string {
  return deploymentKey(config).vkey;
}

/**
 * `keyturn audit verify`: opens the database directly (the data directory's SQLite file or
 * `--db`; read only, beside a running server or not) and recomputes the whole log
 * ({@link verifyLog}). With `vkeys` the log's origin is the first key's name and the master key is
 * not needed: a third party verifies with the verifier key alone.
 */
export async function verifyAudit(config: Config, options: AuditVerifyOptions = {}): Promise<LogReport & { origin: string }> {
  let origin: string;
  let verifiers: NoteVerifier[];
  if (options.vkeys && options.vkeys.length > 0) {
    verifiers = options.vkeys.map((v) => parseVerifierKey(v.trim()));
    origin = config.audit.logOrigin ?? (verifiers[0] as NoteVerifier).name;
  } else {
    const key = deploymentKey(config);
    origin = key.origin;
    verifiers = [key.verifier];
  }
  const store = await openDirect(config);
  try {
    try {
      await logHead(store);
    } catch {
      throw new KeyturnError('ERR_NOT_FOUND', 'this database has no ordered audit log yet (start the server once to apply migration 0160)');
    }
    const report = await verifyLog(store, { origin, verifiers, external: options.checkpoints ?? [] });
    return { ...report, origin };
  } finally {
    await store.close();
  }
}
