/**
 * Test support for the audit sinks: generated certificates (openssl), free ports, a real rsyslogd
 * with plain TCP and TLS listeners, and a reader of RFC 5424 structured data.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

/** A CA, a server certificate for localhost/127.0.0.1 and a client certificate, as files under `dir`. */
export function makePki(dir: string): TestPki {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=keyturn test CA');
  run('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
  run('req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=keyturn sink');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  run('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', '2', '-extfile', 'client.ext');
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  };
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once something accepts connections on `port`. */
export async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Polls `check` until it returns a value (not undefined) or the time is up. */
export async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A running rsyslogd: `tcpPort` plain (RFC 6587), `tlsPort` RFC 5425 requiring a client certificate. */
export interface Rsyslog {
  readonly tcpPort: number;
  readonly tlsPort: number;
  readonly pki: TestPki;
  /** Lines received so far: `MSGID @@ STRUCTURED-DATA @@ MSG`, one per message, in order of arrival. */
  lines(): string[];
  stop(): Promise<void>;
}

/** Whether rsyslogd (with its gtls driver) is installed. */
export function rsyslogInstalled(): boolean {
  return existsSync('/usr/sbin/rsyslogd') && existsSync('/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so');
}

/** Starts `rsyslogd -n` with a config under a temp dir; received messages go to a file. */
export async function startRsyslog(): Promise<Rsyslog> {
  const dir = mkdtempSync(join(tmpdir(), 'keyturn-rsyslog-'));
  const pki = makePki(dir);
  const [tcpPort, tlsPort] = [await freePort(), await freePort()];
  const out = join(dir, 'received.log');
  writeFileSync(
    join(dir, 'rsyslog.conf'),
    [
      `global(workDirectory="${dir}")`,
      'module(load="imtcp")',
      // One line per message: the MSGID, the structured data exactly as received, the MSG.
      'template(name="fields" type="list") { property(name="msgid") constant(value=" @@ ") property(name="structured-data") constant(value=" @@ ") property(name="msg" droplastlf="on") constant(value="\\n") }',
      `input(type="imtcp" port="${tcpPort}" address="127.0.0.1" ruleset="received")`,
      `input(type="imtcp" port="${tlsPort}" address="127.0.0.1" ruleset="received" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="x509/certvalid" streamDriver.CAFile="${pki.ca}" streamDriver.CertFile="${pki.serverCert}" streamDriver.KeyFile="${pki.serverKey}")`,
      `ruleset(name="received") { action(type="omfile" file="${out}" template="fields" flushOnTXEnd="on" asyncWriting="off") }`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('/usr/sbin/rsyslogd', ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  try {
    await waitForPort(tcpPort);
    await waitForPort(tlsPort);
  } catch (err) {
    child.kill();
    throw new Error(`rsyslogd did not start: ${stderr}`, { cause: err });
  }
  return {
    tcpPort,
    tlsPort,
    pki,
    stderr: () => stderr,
    lines: () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter((l) => l !== '') : []),
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  } as Rsyslog;
}

/**
 * Reads RFC 5424 STRUCTURED-DATA (§6.3): `[id name="value" …]…`, unescaping `\"`, `\\` and `\]` in
 * PARAM-VALUEs (a backslash before anything else stays, as §6.3.3 says).
 */
export function parseStructuredData(sd: string): Map<string, [string, string][]> {
  const out = new Map<string, [string, string][]>();
  if (sd === '-') return out;
  let i = 0;
  const fail = (what: string) => {
    throw new Error(`${what} at ${i} in ${sd}`);
  };
  while (i < sd.length) {
    if (sd[i] !== '[') fail('expected [');
    i++;
    let id = '';
    while (i < sd.length && sd[i] !== ' ' && sd[i] !== ']') id += sd[i++];
    const params: [string, string][] = [];
    while (sd[i] === ' ') {
      i++;
      let name = '';
      while (i < sd.length && sd[i] !== '=') name += sd[i++];
      if (sd[i] !== '=' || sd[i + 1] !== '"') fail('expected ="');
      i += 2;
      let value = '';
      for (;;) {
        if (i >= sd.length) fail('unterminated value');
        const c = sd[i]!;
        if (c === '\\' && (sd[i + 1] === '"' || sd[i + 1] === '\\' || sd[i + 1] === ']')) {
          value += sd[i + 1];
          i += 2;
        } else if (c === '"') {
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
      params.push([name, value]);
    }
    if (sd[i] !== ']') fail('expected ]');
    i++;
    out.set(id, params);
  }
  return out;
}
