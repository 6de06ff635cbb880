import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { addAuditSinkCommands } from './audit-sinks.js';
import { addAuditStreamCommands } from './audit-stream.js';
import { loadConfig } from '../config/load.js';
import { printer, type Io } from './run.js';

/**
 * `keyturn audit`: the audit log — `tail` and `export` over the admin API (audit-stream.ts);
 * `verify` and `vkey` with direct access to the data directory or database.
 *
 * @example
 * ```sh
 * keyturn audit tail --follow
 * keyturn audit verify --data-dir /var/lib/keyturn            # exit 0 only when the log is intact
 * keyturn audit verify --db postgres://… --vkey "$VKEY" --checkpoint kept.note
 * ```
 */
export function auditCommand(io: Io): Command {
  const audit = new Command('audit').description('the tamper-evident audit log: follow it, export it for a SIEM, verify it');
  addAuditStreamCommands(audit, io);
  addAuditSinkCommands(audit, io);
  const direct = (cmd: Command): Command =>
    cmd
      .option('--data-dir <dir>', 'data directory (env KEYTURN_DATA_DIR, default ./.keyturn)')
      .option('--db <url>', 'database: a postgres:// URL or an SQLite file (env KEYTURN_DB, default <data dir>/keyturn.db)')
      .option('--config <file>', 'JSON configuration file (env KEYTURN_CONFIG)');
  direct(audit.command('verify'))
    .description('recompute the Merkle tree and every checkpoint from the stored records; exit 0 only when the log is intact, else 1 naming the first damaged record')
    .option('--vkey <key>', "trust this verifier key (<origin>+<id>+<key>, see 'keyturn audit vkey') instead of the master key; repeatable", (v: string, all: string[] = []) => [...all, v])
    .option('--checkpoint <file>', 'a signed checkpoint kept outside keyturn (a sink, a witness): the records must reproduce it; repeatable', (v: string, all: string[] = []) => [...all, v])
    .option('--json', 'print the report as JSON')
    .action(async (opts: { dataDir?: string; db?: string; config?: string; vkey?: string[]; checkpoint?: string[]; json?: boolean }) => {
      const config = loadConfig({ file: opts.config, env: io.env, flags: { dataDir: opts.dataDir, db: opts.db } });
      const { verifyAudit } = await import('../runtime/audit-verify.js');
      const checkpoints = (opts.checkpoint ?? []).map((file) => readFileSync(file, 'utf8'));
      const report = await verifyAudit(config, { ...(opts.vkey ? { vkeys: opts.vkey } : {}), checkpoints });
      printer(io)(opts, report, () => {
        const range = report.records === 0 ? 'no records' : `${report.records} records (seq ${report.firstSeq}–${report.lastSeq})`;
        const summary = `${range}, ${report.checkpoints} signed checkpoints, sealed through tree size ${report.sealedSize}, ${report.unsealed} not sealed yet${report.external > 0 ? `, ${report.external} external checkpoints reproduced` : ''}`;
        if (report.ok) return `audit log ${report.origin} intact: ${summary}`;
        const first = report.problems[0]!;
        const lines = [`audit log ${report.origin} DAMAGED: first ${first.kind} record${first.seq === null ? '' : ` at seq ${first.seq}`}${first.id ? ` (${first.id})` : ''}: ${first.detail}`];
        for (const p of report.problems.slice(1, 20)) lines.push(`  then ${p.kind}${p.seq === null ? '' : ` at seq ${p.seq}`}: ${p.detail}`);
        if (report.problems.length > 20) lines.push(`  … ${report.problems.length - 20} more`);
        lines.push(summary);
        return lines.join('\n');
      });
      if (!report.ok) process.exitCode = 1;
    });
  direct(audit.command('vkey'))
    .description("print the audit log's verifier key (C2SP signed-note form): give it to whoever keeps checkpoints outside keyturn")
    .action(async (opts: { dataDir?: string; db?: string; config?: string }) => {
      const config = loadConfig({ file: opts.config, env: io.env, flags: { dataDir: opts.dataDir, db: opts.db } });
      const { auditVerifierKey } = await import('../runtime/audit-verify.js');
      io.out(auditVerifierKey(config));
    });
  return audit;
}
