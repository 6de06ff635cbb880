import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyturnError } from '../core/errors.js';

/** The files {@link makeDevCerts} writes into its directory. */
export const DEV_CERT_FILES = ['ca.pem', 'ca.key', 'server.pem', 'server.key', 'client.pem', 'client.key'] as const;

export interface DevCerts {
  readonly dir: string;
  readonly files: Readonly<Record<(typeof DEV_CERT_FILES)[number], string>>;
  /** Subject DN of the client certificate, as `tls_client_auth` registers it. */
  readonly clientSubject: string;
}

/**
 * Makes a local CA, a server certificate for `localhost`, `127.0.0.1` and `::1`, and a client
 * certificate (`CN=keyturn-dev-client`), all ECDSA P-256 and valid `days` days, in `dir`: for trying
 * `keyturn serve --tls-cert … --tls-key … --tls-client-ca …` and mTLS clients on one machine. Keys
 * are written mode 0600. Node can verify and read certificates but not build them, so this runs
 * the `openssl` command (OpenSSL 1.1.1 or newer); see docs/dependencies.md. Refuses to overwrite.
 */
export function makeDevCerts(dir: string, options: { days?: number; openssl?: string } = {}): DevCerts {
  const openssl = options.openssl ?? 'openssl';
  const days = String(options.days ?? 30);
  const files = Object.fromEntries(DEV_CERT_FILES.map((name) => [name, join(dir, name)])) as Record<(typeof DEV_CERT_FILES)[number], string>;
  const existing = DEV_CERT_FILES.find((name) => existsSync(files[name]));
  if (existing !== undefined) throw new KeyturnError('ERR_VALIDATION', `${files[existing]} exists; dev-certs never overwrites (choose an empty directory)`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const work = mkdtempSync(join(tmpdir(), 'keyturn-dev-certs-'));
  const run = (args: string[]): void => {
    try {
      execFileSync(openssl, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
      if (e.code === 'ENOENT') throw new KeyturnError('ERR_CONFIG', 'dev-certs needs the openssl command on PATH');
      throw new KeyturnError('ERR_INTERNAL', `openssl ${args[0]} failed: ${e.stderr?.toString().trim().split('\n')[0] ?? e.message}`);
    }
  };
  const key = (path: string): void => {
    run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
    chmodSync(path, 0o600);
  };
  const leaf = (name: 'server' | 'client', subject: string, ext: string): void => {
    key(files[`${name}.key`]);
    const csr = join(work, `${name}.csr`);
    const extFile = join(work, `${name}.ext`);
    writeFileSync(extFile, ext);
    run(['req', '-new', '-key', files[`${name}.key`], '-subj', subject, '-out', csr]);
    run(['x509', '-req', '-in', csr, '-CA', files['ca.pem'], '-CAkey', files['ca.key'], '-CAcreateserial', '-days', days, '-sha256', '-extfile', extFile, '-out', files[`${name}.pem`]]);
  };
  try {
    key(files['ca.key']);
    run([
      'req', '-x509', '-new', '-key', files['ca.key'], '-subj', '/O=keyturn dev/CN=keyturn dev CA', '-days', days, '-sha256',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', files['ca.pem'],
    ]);
    leaf('server', '/O=keyturn dev/CN=localhost', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n');
    leaf('client', '/O=keyturn dev/CN=keyturn-dev-client', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=DNS:keyturn-dev-client\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(join(dir, 'ca.srl'), { force: true });
  }
  return { dir, files, clientSubject: 'CN=keyturn-dev-client,O=keyturn dev' };
}
