#!/usr/bin/env node
// keyturn pins its AWS SDK version, which supports this Node; the SDK's warning is about versions it
// has not installed, and printed in front of an S3 error it buries the one line a user needs.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

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
