import { Command } from 'commander';
import { addAuditStreamCommands } from './audit-stream.js';
import type { Io } from './run.js';

/**
 * `keyturn audit …`: the audit log — tail, export (and verify, from the tamper-evidence work).
 *
 * @example
 * ```sh
 * keyturn audit tail --follow
 * ```
 */
export function auditCommand(io: Io): Command {
  const audit = new Command('audit').description('the audit log: follow it, export it for a SIEM');
  addAuditStreamCommands(audit, io);
  return audit;
}
