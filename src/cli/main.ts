#!/usr/bin/env node
// keyturn pins its AWS SDK version, which supports this Node; the SDK's warning is about versions it
// has not installed, and printed in front of an S3 error it buries the one line a user needs.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// Only the invoked command group is loaded (see commands.ts): a client command loads the HTTP
// client and its own module, a local scan the scanner, and only `serve` the server. (`keyturn
// scan` itself starts from scan-main.ts: the same program, bundled into one module.)
const [{ runCli }, { processIo }] = await Promise.all([import('./program.js'), import('./run.js')]);
process.exitCode = await runCli(process.argv.slice(2), processIo());
