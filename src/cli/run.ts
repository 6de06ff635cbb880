import { CommanderError, type Command } from 'commander';
import { KeyturnError } from '../core/errors.js';

/** Where a command writes; tests pass their own. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: () => Promise<string>;
}

/** The process's own output, environment and standard input (what `main.ts` and `scan-main.ts` run with). */
export function processIo(): Io {
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    env: process.env,
    stdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

/** Prints `json` with `--json`, else the text. */
export function printer(io: Pick<Io, 'out'>): (opts: { json?: boolean }, json: unknown, text: () => string) => void {
  return (opts, json, text) => io.out(opts.json ? JSON.stringify(json, null, 2) : text());
}

/**
 * Every command, including those built apart (scan, watch), reports a usage error as one
 * `keyturn: …` line and exit 2 — `scan` exits 1 for findings, so a typo must never read as one.
 */
function quiet(program: Command, io: Pick<Io, 'out' | 'err'>): void {
  const output = {
    writeOut: (s: string) => io.out(s.replace(/\n$/, '')),
    writeErr: (s: string) => io.err(s.replace(/\n$/, '')),
    outputError: (s: string, write: (s: string) => void) => write(`keyturn: ${s.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')}\n`),
  };
  const everyCommand = (cmd: Command): Command[] => [cmd, ...cmd.commands.flatMap(everyCommand)];
  for (const cmd of everyCommand(program)) cmd.exitOverride().configureOutput(output).showSuggestionAfterError(true);
}

/** A Node system error (`EADDRINUSE`, `EACCES`, …) as thrown by `listen`, `mkdir`, `open`. */
function systemError(err: unknown): (Error & { code: string; syscall?: string; path?: string; address?: string; port?: number }) | undefined {
  const e = err instanceof KeyturnError && err.cause !== undefined ? err.cause : err;
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string' && /^E[A-Z]+$/.test((e as unknown as { code: string }).code)
    ? (e as Error & { code: string })
    : undefined;
}

/** What the system said, without Node's `EACCES: …, mkdir '…'` decoration. */
function systemReason(err: Error & { code: string }): string {
  return err.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
}

/** Runs `program` on `argv`; resolves to the exit code. One line on stderr for any error. */
export async function runProgram(program: Command, argv: readonly string[], io: Pick<Io, 'out' | 'err'>): Promise<number> {
  quiet(program, io);
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      if (err.code === 'keyturn.invalidArgument') io.err(`keyturn: ${err.message}`);
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof KeyturnError && err.code === 'ERR_CONFIG') {
      io.err(`keyturn: ${err.code}: ${err.message}`);
      return 2;
    }
    const sys = systemError(err);
    if (sys?.code === 'EADDRINUSE') {
      const where = sys.address === undefined ? 'the address' : `${sys.address}:${sys.port ?? ''}`;
      io.err(`keyturn: ERR_ADDRESS_IN_USE: ${where} is already in use (another keyturn running?); pick another with --port`);
      return 1;
    }
    if (sys?.path !== undefined) {
      io.err(`keyturn: ERR_FILESYSTEM: cannot ${sys.syscall ?? 'use'} ${sys.path}: ${systemReason(sys)}`);
      return 1;
    }
    if (err instanceof KeyturnError) {
      io.err(`keyturn: ${err.code}: ${err.message}`);
      return 1;
    }
    io.err(`keyturn: ERR_INTERNAL: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
