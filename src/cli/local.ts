import { Command, CommanderError } from 'commander';
import { KeyturnError } from '../core/errors.js';
import { hooksCommand } from './hooks.js';
import { scanCommand } from './scan.js';

/** Where a local command writes. */
export interface LocalIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

function quiet(cmd: Command, io: LocalIo): void {
  cmd.exitOverride().configureOutput({
    writeOut: (s) => io.out(s.replace(/\n$/, '')),
    writeErr: (s) => io.err(s.replace(/\n$/, '')),
    outputError: (s, write) => write(`keyturn: ${s.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')}\n`),
  });
  for (const sub of cmd.commands) quiet(sub, io);
}

/**
 * Runs `keyturn scan …` or `keyturn hooks …`, the commands that need no server: `main.ts`
 * loads this module alone for them, so a local scan (a pre-commit hook runs one per commit)
 * loads the scanner and nothing of the server, the stores or the client commands. Resolves resolves to the exit code (usage errors 2, as
 * `keyturn scan` documents; other errors one line on stderr and 1).
 */
export async function runLocalCli(argv: readonly string[], io: LocalIo): Promise<number> {
  const program = new Command('keyturn').addCommand(scanCommand()).addCommand(hooksCommand(io));
  quiet(program, io);
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0;
      if (err.code === 'keyturn.invalidArgument') io.err(`keyturn: ${err.message}`);
      return 2;
    }
    io.err(`keyturn: ${err instanceof KeyturnError ? err.code : 'ERR_INTERNAL'}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
