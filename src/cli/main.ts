#!/usr/bin/env node
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Commands that need no server (see `local.ts`). */
const LOCAL_COMMANDS: readonly string[] = ['scan', 'hooks'];

const argv = process.argv.slice(2);
const io = {
  out: (text: string) => process.stdout.write(`${text}\n`),
  err: (text: string) => process.stderr.write(`${text}\n`),
};
// A local scan (a pre-commit hook runs one per commit) loads the scanner alone: not the
// configuration schema, the client commands, nor anything of the server.
const code = LOCAL_COMMANDS.includes(argv[0] ?? '')
  ? await (await import('./local.js')).runLocalCli(argv, io)
  : await (await import('./program.js')).runCli(argv, { ...io, env: process.env, stdin: readStdin });
process.exitCode = code;
