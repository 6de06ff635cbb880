import { Command, Option } from 'commander';
import { call, clientOptions as client, commandTarget, type ClientFlags as Common } from './client.js';
import { table } from './format.js';
import { printer, type Io } from './run.js';

/**
 * `keyturn signing-keys …`: the signing key ring (JWKS).
 *
 * @example
 * ```sh
 * keyturn signing-keys rotate --alg ES256
 * ```
 */
export function signingKeysCommand(io: Io): Command {
  const print = printer(io);
  const target = (cmd: Command) => commandTarget(cmd, io.env);
  const signing = new Command('signing-keys').description('the signing key ring (JWKS)');
  client(signing.command('list').description('list signing keys (never the private halves)'))
    .action(async (_opts: Common, cmd: Command) => {
      const [t, common] = target(cmd);
      const page = await call<{ items: Record<string, unknown>[] }>(t, 'GET', '/v1/signing-keys');
      print(common, page, () => table(page.items, ['kid', 'alg', 'status', 'activatedAt', 'retiredAt', 'publishUntil']));
    });
  client(signing.command('rotate').description('rotate now: next becomes active, active is retired (published until its tokens expire)'))
    .addOption(new Option('--alg <alg>', 'only this algorithm').choices(['ES256', 'EdDSA']))
    .action(async (opts: Common & { alg?: string }, cmd: Command) => {
      const [t, common] = target(cmd);
      const result = await call<{ activated: string[] }>(t, 'POST', '/v1/signing-keys/rotate', opts.alg ? { alg: opts.alg } : {});
      print(common, result, () => `activated ${result.activated.join(', ') || 'nothing'}`);
    });
  return signing;
}
