import { Command } from 'commander';
import { COMMAND_GROUPS } from './commands.js';
import { runProgram, type Io } from './run.js';

export type { Io } from './run.js';

/**
 * The `keyturn` command line: with `only`, just that command group (what a command needs to
 * run); without, every group (`--help`, an unknown command and its suggestion). Every client
 * command talks to a server over HTTP; `--json` prints what the API answered.
 */
export async function buildProgram(io: Io, only?: string): Promise<Command> {
  const program = new Command('keyturn').description('Self-hosted authority for API credentials').version('0.1.0');
  // `--version` needs no group; a group's name, that group; anything else (help, a typo), all of them.
  const names = only === '--version' || only === '-V' ? [] : only !== undefined && Object.hasOwn(COMMAND_GROUPS, only) ? [only] : Object.keys(COMMAND_GROUPS);
  for (const command of await Promise.all(names.map((name) => COMMAND_GROUPS[name]!.build(io)))) program.addCommand(command);
  return program;
}

/** Runs the CLI; resolves to the exit code. One line on stderr for any error. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  return runProgram(await buildProgram(io, argv[0]), argv, io);
}
