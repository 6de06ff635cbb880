import { Command } from 'commander';
import type { Io } from './run.js';

/**
 * `keyturn dev-certs <dir>`: a local CA, a server certificate (localhost, 127.0.0.1, ::1) and a
 * client certificate for trying HTTPS and mTLS on one machine.
 *
 * @example
 * ```sh
 * keyturn dev-certs ./certs && keyturn serve --tls-cert certs/server.pem --tls-key certs/server.key --tls-client-ca certs/ca.pem
 * ```
 */
export function devCertsCommand(io: Io): Command {
  return new Command('dev-certs')
    .description('make a local CA, a server and a client certificate for trying HTTPS and mTLS (never for production)')
    .argument('<dir>', 'directory to write ca.pem, server.pem/.key, client.pem/.key into (keys mode 0600)')
    .option('--days <n>', 'validity in days', '30')
    .action(async (dir: string, opts: { days: string }) => {
      const days = Number(opts.days);
      if (!Number.isInteger(days) || days < 1 || days > 3650) throw new (await import('../core/errors.js')).KeyturnError('ERR_VALIDATION', '--days: a whole number from 1 to 3650');
      const { makeDevCerts } = await import('../runtime/dev-certs.js');
      const made = makeDevCerts(dir, { days });
      io.out(
        [
          `wrote ${Object.values(made.files).join(', ')}`,
          `serve:  keyturn serve --tls-cert ${made.files['server.pem']} --tls-key ${made.files['server.key']} --tls-client-ca ${made.files['ca.pem']}`,
          `client: register with --auth-method tls_client_auth and subject DN "${made.clientSubject}"`,
        ].join('\n'),
      );
    });
}
