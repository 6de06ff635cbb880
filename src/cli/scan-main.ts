#!/usr/bin/env node
/**
 * The entry of `keyturn scan …` (the bin `keyturn.cjs` picks it for `scan`; `keyturn hooks
 * install` writes it into the pre-commit hook): the same program as `main.ts`, imported
 * statically, so that the build (`scripts/bundle-rules.mjs`) can make it one module holding
 * commander, the CLI and the scanner. A pre-commit hook runs on every commit, and loading ~35
 * modules one by one was about a fifth of a whole `scan --staged` process. Only run it for
 * `scan`: another command group would load its own copy of commander beside the bundled one.
 */
import { runCli } from './program.js';
import { processIo } from './run.js';

// See main.ts: an S3 scan loads the AWS SDK, whose version warning would bury a one-line error.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.exitCode = await runCli(process.argv.slice(2), processIo());
