#!/usr/bin/env node
import { runCli } from './program.js';

// keyturn pins its AWS SDK version, which supports this Node; the SDK's warning is about versions it
// has not installed, and printed in front of an S3 error it buries the one line a user needs.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const code = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
  stdin: readStdin,
});
process.exitCode = code;
