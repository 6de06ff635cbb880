import { Command, CommanderError, Option } from 'commander';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { KeyturnError } from '../core/errors.js';
import { deriveKey, fingerprintSecret } from '../core/fingerprint.js';
import { withoutCredentials } from '../core/redact.js';
import { baselineOf, writeBaseline, type Baseline } from '../leaks/scan/baseline.js';
import type { Progress } from '../leaks/scan/collect.js';
import { buildEngineConfig } from '../leaks/scan/config.js';
import { formatJson, formatSarif, formatText } from '../leaks/scan/report.js';
import type { ResponseOutcome } from '../leaks/respond/index.js';
import { parseTarget, runScan, type Target as ScanTarget } from '../leaks/scan/scanner.js';
import { stateFingerprintKey } from '../leaks/scan/state.js';
import type { Finding } from '../leaks/scan/types.js';
import { call, resolveTarget } from './client.js';

/** Where `keyturn scan` reads and writes; tests pass their own. */
export interface ScanIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** When set, a progress bar is drawn here (only give it for a terminal). */
  readonly progress?: (line: string) => void;
  readonly stdin: Readable;
  readonly env: NodeJS.ProcessEnv;
  readonly setExitCode: (code: number) => void;
}

interface ScanFlags {
  history?: boolean;
  staged?: boolean;
  format: 'text' | 'json' | 'sarif';
  baseline?: string;
  writeBaseline?: string;
  redact: boolean;
  rules?: string;
  gitignore?: boolean;
  stateDir?: string;
  prefix?: string[];
  threads?: number;
  maxFileSize?: number;
  s3Endpoint?: string;
  respond?: boolean;
  url?: string;
  token?: string;
  dataDir?: string;
}

/** Exit codes of `keyturn scan`. */
export const SCAN_EXIT = { clean: 0, findings: 1, error: 2 } as const;

const VERSION = '0.1.0';

function processIo(): ScanIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    ...(process.stderr.isTTY ? { progress: (line: string) => process.stderr.write(line) } : {}),
    stdin: process.stdin,
    env: process.env,
    setExitCode: (code) => {
      process.exitCode = code;
    },
  };
}

function positiveInt(name: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < 0) throw new CommanderError(2, 'keyturn.invalidArgument', `${name}: not a non-negative integer`);
    return Number(value);
  };
}

const MIB = 1024 * 1024;

/** A throttled one-line progress bar, cleared at the end. */
function progressBar(write: (line: string) => void): { update: (p: Progress) => void; clear: () => void } {
  let last = 0;
  let drawn = false;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      drawn = true;
      const mib = (p.bytes / MIB).toFixed(1);
      if (p.totalBytes) {
        const ratio = Math.min(1, p.bytes / Math.max(1, p.totalBytes));
        const filled = Math.round(ratio * 30);
        write(`\r[${'#'.repeat(filled)}${'.'.repeat(30 - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}%  ${mib} MiB  ${p.items} files`);
      } else write(`\rscanned ${mib} MiB, ${p.items} files`);
    },
    clear() {
      if (drawn) write('\r\x1b[K');
    },
  };
}

/**
 * What a blocked commit is told on stderr, after the (redacted) findings: how to let a false
 * positive through, and what to do about a real secret.
 */
export function blockedMessage(count: number): string {
  return [
    `keyturn: commit blocked: ${count} secret${count === 1 ? '' : 's'} in what this commit adds (above: file:line:column, redacted).`,
    'Not a secret? Either',
    '  - put keyturn:allow in a comment on that line, or',
    '  - record it in a baseline (fingerprints only, safe to commit):',
    '      keyturn scan --staged --write-baseline .keyturn-baseline.json',
    '    and run the hook with it: keyturn hooks install --baseline .keyturn-baseline.json',
    '    (pre-commit framework: args: [--baseline, .keyturn-baseline.json]).',
    'A real secret? Take it out of the staged files (edit, then git add) and keep it in a secret store.',
  ].join('\n');
}

/**
 * The key non-keyturn fingerprints are made under, so that they match from run to run where that
 * matters: the baseline's (`--baseline`, version 2), else that of the baseline about to be
 * rewritten (`--write-baseline`), else the state directory's (`--state-dir`); else none is given
 * and the scan makes a fresh one (its fingerprints then compare only within its own output).
 */
function fingerprintKeyFor(
  flags: ScanFlags,
  baseline: Baseline | undefined,
  keyAt: ((path: string) => string | undefined) | undefined,
): { fingerprintKey?: string } {
  const key =
    (baseline?.version === 2 ? baseline.key : undefined) ??
    (flags.writeBaseline && keyAt ? keyAt(flags.writeBaseline) : undefined) ??
    (flags.stateDir ? stateFingerprintKey(flags.stateDir) : undefined);
  return key === undefined ? {} : { fingerprintKey: key };
}

async function execute(targetText: string, flags: ScanFlags, io: ScanIo): Promise<number> {
  const target = parseTarget(targetText);
  if (flags.staged && (flags.history || target.type !== 'path')) {
    throw new KeyturnError('ERR_VALIDATION', '--staged scans the index of a local git repository: give a path (default .), without --history');
  }
  // The file readers (and zod) load only when a file is given: a pre-commit hook starts faster.
  const rulesFile = flags.rules ? (await import('../leaks/scan/rules-file.js')).loadRulesFile(flags.rules) : undefined;
  const baselineFile = flags.baseline || flags.writeBaseline ? await import('../leaks/scan/baseline-file.js') : undefined;
  const baseline = flags.baseline ? baselineFile!.readBaseline(flags.baseline) : undefined;
  if (baseline?.version === 1) {
    io.stderr(
      `keyturn: warning: ${flags.baseline} is a version 1 baseline: its plain SHA-256 fingerprints give weak secrets away to a dictionary. ` +
        `It is still honoured; rewrite it with its key: keyturn scan ${targetText} --write-baseline ${flags.baseline}\n`,
    );
  }
  const config = buildEngineConfig({
    ...(flags.prefix ? { prefixes: flags.prefix } : {}),
    ...(rulesFile ? { rulesFile } : {}),
    ...(flags.maxFileSize === undefined ? {} : { maxFileBytes: flags.maxFileSize }),
    ...fingerprintKeyFor(flags, baseline, baselineFile?.baselineKeyAt),
  });
  const bar = io.progress ? progressBar(io.progress) : undefined;
  const endpoint = flags.s3Endpoint ?? io.env.AWS_ENDPOINT_URL_S3 ?? io.env.AWS_ENDPOINT_URL;
  const report = await runScan(target, {
    config,
    history: flags.history ?? false,
    staged: flags.staged ?? false,
    gitignore: flags.gitignore ?? false,
    stdin: io.stdin,
    // The data directory the admin key comes from, besides any that holds keyturn's marker.
    skipDirs: [resolve(flags.dataDir ?? io.env.KEYTURN_DATA_DIR ?? './.keyturn')],
    ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
    ...(baseline ? { baseline } : {}),
    ...(flags.threads === undefined ? {} : { threads: flags.threads }),
    ...(endpoint ? { s3: { endpoint, ...(io.env.AWS_REGION ? { region: io.env.AWS_REGION } : {}) } } : {}),
    ...(bar ? { progress: bar.update } : {}),
  });
  bar?.clear();
  for (const dir of report.skippedDataDirs ?? []) io.stderr(`keyturn scan: skipped ${dir}: a keyturn data directory (the server's own keys; never scanned)\n`);
  if (flags.writeBaseline) writeBaseline(flags.writeBaseline, baselineOf(report.findings, config.fingerprintKey));
  const reveal = !flags.redact;
  const out =
    flags.format === 'json'
      ? formatJson(report.findings, reveal)
      : flags.format === 'sarif'
        ? formatSarif(report.findings, config.rules, reveal, VERSION)
        : formatText(report.findings, reveal);
  io.stdout(out);
  if (flags.staged && report.findings.length > 0) io.stderr(`${blockedMessage(report.findings.length)}\n`);
  if (flags.respond && report.findings.length > 0) {
    const summary = await respond(targetText, report.findings, flags, io);
    (flags.format === 'text' ? io.stdout : io.stderr)(summary);
  }
  return report.findings.length > 0 ? SCAN_EXIT.findings : SCAN_EXIT.clean;
}

/** Findings per request: well under the server's default 64 KiB body limit. */
const RESPOND_BATCH = 200;

/** What `--respond` records as the source: absolute for paths, without credentials for URLs. */
function sourceLabel(target: ScanTarget, text: string): string {
  return target.type === 'path' ? resolve(target.path) : withoutCredentials(text);
}

function place(f: Finding): string {
  return `${f.file}:${f.line}${f.commit ? ` (${f.commit.slice(0, 12)})` : ''}`;
}

const CREDENTIAL_WORDS = { api_key: 'key', client_secret: 'client', refresh_token: 'grant', access_token: 'access token' } as const;
const RESPONSE_WORDS = {
  key_suspended: 'suspended',
  key_revoked: 'revoked',
  client_disabled: 'client disabled',
  secret_revoked: 'client secret revoked',
  grant_revoked: 'grant revoked',
  token_revoked: 'token revoked',
} as const;

/**
 * `--respond`: sends the findings to a keyturn server as fingerprints and places — never the
 * secrets — and describes what the server did.
 */
async function respond(targetText: string, findings: readonly Finding[], flags: ScanFlags, io: ScanIo): Promise<string> {
  const server = resolveTarget(flags, io.env);
  const source = sourceLabel(parseTarget(targetText), targetText);
  const outcomes: ResponseOutcome[] = [];
  // What is sent is stable from run to run for the same credential (so a second run is "already
  // reported"), and still no plain hash of a weak secret: HMAC under a key derived from the
  // credential (the server keys it again under its own). keyturn secrets go as their digest.
  const sendKey = deriveKey(createHash('sha256').update(`keyturn-respond:${server.token ?? ''}`).digest(), 'respond-fingerprints/v1');
  const sent = (f: Finding) => fingerprintSecret(f.secret, sendKey);
  for (let i = 0; i < findings.length; i += RESPOND_BATCH) {
    const batch = findings.slice(i, i + RESPOND_BATCH).map((f) => ({
      fingerprint: sent(f),
      kind: f.kind,
      rule: f.rule,
      file: f.file,
      line: f.line,
      column: f.column,
      ...(f.commit === undefined ? {} : { commit: f.commit }),
      ...(f.atHead === undefined ? {} : { atHead: f.atHead }),
    }));
    const answer = await call<{ items: ResponseOutcome[] }>(server, 'POST', '/v1/leaks/findings', { source, findings: batch });
    outcomes.push(...answer.items);
  }
  const firstSeen = new Map<string, Finding>();
  for (const f of findings) if (!firstSeen.has(sent(f))) firstSeen.set(sent(f), f);
  const lines = outcomes.map((o) => {
    const where = firstSeen.get(o.fingerprint);
    const at = where ? place(where) : '';
    const notified = o.notifications > 0 ? `; owner notified (${o.notifications} webhook${o.notifications > 1 ? 's' : ''} queued)` : o.credential ? '; owner notified (event)' : '';
    const what = o.credential ? `${CREDENTIAL_WORDS[o.credential.type]} ${o.credential.id}` : `key ${o.keyId}`;
    const done = o.credential?.response ? RESPONSE_WORDS[o.credential.response] : o.status;
    if (!o.new && o.action === 'none' && o.status !== 'held') return `  already reported  ${o.kind}  ${at}  ${o.credential?.id ?? o.keyId ?? ''}`.trimEnd();
    switch (o.status) {
      case 'suspended':
      case 'revoked':
        return `  ${done}${o.new ? '' : ' again'}  ${what}  ${at}${notified}`;
      case 'held':
        return `  reported, NOT suspended  ${what}  ${at}  (${o.held === 'own_credential' ? 'this scan authenticated with it' : 'the last working admin key: rotate it now'})${notified}`;
      case 'inactive':
        return `  recorded  ${what} (already inactive)  ${at}${notified}`;
      case 'unknown':
        return `  recorded  ${o.kind}  ${at}  (not a key of this server)`;
      case 'third_party':
        return `  recorded  ${o.kind}  ${at}  (third-party: reported, not acted on)`;
    }
  });
  const count = (pick: (o: ResponseOutcome) => boolean) => outcomes.filter(pick).length;
  const head =
    `respond: ${outcomes.length} secret${outcomes.length === 1 ? '' : 's'} sent to ${server.url}: ` +
    `${count((o) => o.action === 'suspended')} suspended, ${count((o) => o.action === 'revoked')} revoked, ` +
    `${count((o) => o.new && o.status === 'third_party')} third-party recorded, ${count((o) => !o.new && o.action === 'none')} already reported` +
    (count((o) => o.status === 'held') > 0 ? `, ${count((o) => o.status === 'held')} admin key${count((o) => o.status === 'held') > 1 ? 's' : ''} held (reported, not suspended)` : '');
  return `${[head, ...lines].join('\n')}\n`;
}

/**
 * `keyturn scan <path|git-url|s3://bucket/prefix|->`: finds secrets in a directory, a git
 * repository's history, a bucket or standard input. Exit 0: none; 1: findings; 2: error (one
 * line on stderr).
 *
 * @example
 * ```ts
 * program.addCommand(scanCommand());
 * ```
 */
export function scanCommand(io: ScanIo = processIo()): Command {
  return new Command('scan')
    .description('find leaked secrets in a directory, a git history, an S3 bucket or standard input')
    .argument('[source]', 'a path, a git URL, s3://bucket/prefix, or - for standard input (with --staged: the repository, default .)')
    .option('--history', 'scan the whole git history (all refs) of the repository at <source>')
    .option('--staged', 'pre-commit: scan only what the next commit adds (the staged diff\'s added lines); exit 1 blocks the commit')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'sarif']).default('text'))
    .option('--baseline <file>', 'ignore findings whose fingerprints are in this baseline file')
    .option('--write-baseline <file>', 'write the findings of this scan as a baseline file')
    .option('--no-redact', 'print secrets in full (they are redacted by default)')
    .option('--rules <file>', 'a JSON rules file: extra rules, disabled rule ids, allowlists, keyturn prefixes')
    .option('--gitignore', 'skip files that .gitignore files ignore (directory scans)')
    .option('--state-dir <dir>', 'scan incrementally: remember what was scanned in this directory')
    .option('--prefix <prefix...>', 'keyturn secret prefix roots to recognise (default kt; * for any)')
    .option('--threads <n>', 'worker threads besides the main thread, which scans too (default: cores - 1; 0: the main thread only)', positiveInt('--threads'))
    .option('--max-file-size <bytes>', 'skip files larger than this (default 10 MiB)', positiveInt('--max-file-size'))
    .option('--s3-endpoint <url>', 'S3-compatible endpoint (env AWS_ENDPOINT_URL_S3)')
    .option('--respond', 'send the findings (fingerprints and places, never secrets) to a keyturn server, which suspends or revokes its own leaked keys')
    .option('--url <url>', 'with --respond: keyturn server URL (env KEYTURN_URL, default http://127.0.0.1:8080)')
    .option('--token <key>', 'with --respond: admin API key (env KEYTURN_TOKEN, default <data dir>/admin.key)')
    .option('--data-dir <dir>', 'with --respond: data directory holding admin.key (env KEYTURN_DATA_DIR, default ./.keyturn)')
    .action(async (source: string | undefined, flags: ScanFlags, cmd: Command) => {
      if (source === undefined && !flags.staged) cmd.error("missing required argument 'source'", { exitCode: 2, code: 'commander.missingArgument' });
      try {
        io.setExitCode(await execute(source ?? '.', flags, io));
      } catch (err) {
        const message = err instanceof KeyturnError ? `${err.code}: ${err.message}` : `ERR_INTERNAL: ${err instanceof Error ? err.message : String(err)}`;
        io.stderr(`keyturn scan: ${message.split('\n')[0] ?? ''}\n`);
        io.setExitCode(SCAN_EXIT.error);
      }
    });
}

/**
 * Runs `keyturn scan` alone (tests, scripts): resolves to the exit code; usage errors are 2.
 */
export async function runScanCli(argv: readonly string[], io: ScanIo): Promise<number> {
  let code = 0;
  const cmd = scanCommand({ ...io, setExitCode: (c) => (code = c) });
  cmd.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  try {
    await cmd.parseAsync(argv as string[], { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0;
      if (err.code === 'keyturn.invalidArgument') io.stderr(`keyturn scan: ${err.message}\n`);
      return SCAN_EXIT.error;
    }
    throw err;
  }
}
