#!/usr/bin/env node
// keyturn pins its AWS SDK version, which supports this Node; the SDK's warning is about versions it
// has not installed, and printed in front of an S3 error it buries the one line a user needs.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// Only the invoked command group is loaded (see commands.ts): a client command loads the HTTP
// client and its own module, a local scan the scanner, and only `serve` the server.
const { runCli } = await import('./program.js');
process.exitCode = await runCli(process.argv.slice(2), {
  out: (text: string) => process.stdout.write(`${text}\n`),
  err: (text: string) => process.stderr.write(`${text}\n`),
  env: process.env,
  stdin: readStdin,
});
