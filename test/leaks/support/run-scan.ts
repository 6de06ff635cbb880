/** Runs `keyturn scan` alone from the sources: `npx tsx test/leaks/support/run-scan.ts <args>`. */
import { runScanCli } from '../../../src/cli/scan.js';

const code = await runScanCli(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  ...(process.stderr.isTTY ? { progress: (l: string) => process.stderr.write(l) } : {}),
  stdin: process.stdin,
  env: process.env,
  setExitCode: () => undefined,
});
process.exitCode = code;
