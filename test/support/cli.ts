import { runCli } from '../../src/cli/program.js';

/** What one in-process CLI run printed, and its exit code. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI in this process with `env` and `stdin`, capturing its output (exit code isolated). */
export async function cli(args: string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const previous = process.exitCode;
  process.exitCode = undefined;
  const code = await runCli(args, { out: (t) => out.push(t), err: (t) => err.push(t), env, stdin: async () => stdin });
  process.exitCode = previous;
  return { code, out: out.join('\n'), err: err.join('\n') };
}
