import { randomBytes } from 'node:crypto';
import { chmodSync, createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestMeta } from '../../src/audit/events.js';
import { manualContext } from '../../src/core/context.js';
import { EgressGuard, Outbox, type ResolveAll } from '../../src/jobs/index.js';
import { KeyService } from '../../src/keys/service.js';
import { LeakResponder } from '../../src/leaks/respond/index.js';
import { cloneMirror } from '../../src/leaks/scan/sources/git.js';
import { WatchService } from '../../src/leaks/watch.js';
import { PrincipalService } from '../../src/principals/service.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import { freshStore, type StoreHandle } from '../support/stores.js';
import { commitFiles, gitIn, initRepo, tempDir } from './support/fixtures.js';

const admin: RequestMeta = { actor: null, actorKind: null, sourceIp: '127.0.0.1', requestId: 'req_test' };

/**
 * Issue #9 follow-up (item 11, DNS rebinding of git remotes): a watch's git remote was checked
 * against the egress guard (a name resolving to loopback, private or metadata addresses is
 * refused), but git then resolved the name again by itself to clone — so a name answering a
 * public (or allowed) address to the check and a private one to git reached the private one.
 * Now the name is resolved once, checked, and git connects to exactly the checked address
 * (`http.curloptResolve` for HTTP(S)). A real git clones over HTTP from a local server (git's
 * "dumb" protocol over static files); the guard's resolver is injected.
 *
 * The rebinding is reproduced on loopback alone: the guard is told `localhost` is 127.0.0.2 (an
 * allowed address), while git's own lookup answers 127.0.0.1, where the git server listens and
 * which is not allowed. Before the fix, the clone reached 127.0.0.1.
 */
describe('git remotes are cloned from the address the egress guard checked', () => {
  let handle: StoreHandle;
  let gitServer: Server;
  let port: number;
  let root: string;
  const requests: string[] = [];
  let keys: KeyService;
  let secret: string;

  beforeAll(async () => {
    handle = await freshStore('sqlite');
    await handle.store.migrate(MIGRATIONS);
    const ctx = manualContext(new Date('2031-05-01T00:00:00Z'));
    const principals = new PrincipalService(handle.store, ctx);
    keys = new KeyService({ store: handle.store, ctx, principals, prefix: 'kt_live' });
    await principals.create({ kind: 'service', name: 'api' }, admin);
    secret = (await keys.create({ owner: 'api', name: 'leaked' }, admin)).secret;
    watchesOf = (resolve, allow) => {
      const responder = new LeakResponder({ store: handle.store, ctx, keys, mode: 'suspend', fingerprintKey: randomBytes(32), outbox: new Outbox({ store: handle.store, ctx, nodeId: 'nod_test' }) });
      return new WatchService({ store: handle.store, ctx, responder, fingerprintKey: randomBytes(32), nodeId: 'node-a', leaseMs: 60_000, threads: 0, egress: new EgressGuard({ allow, resolve }) });
    };

    root = tempDir();
    const work = join(root, 'work');
    gitIn(root, 'init', '-q', '-b', 'main', work);
    initRepo(work);
    commitFiles(work, { 'app/.env': `API_KEY=${secret}\n` }, 'add config', 1_900_000_000);
    gitIn(root, 'clone', '-q', '--bare', work, join(root, 'repo.git'));
    gitIn(join(root, 'repo.git'), 'update-server-info');
    // A static file server: git's "dumb" HTTP transport needs nothing else.
    gitServer = createServer((req, res) => {
      requests.push(req.url ?? '');
      const path = normalize(join(root, decodeURIComponent((req.url ?? '/').split('?')[0]!)));
      if (!path.startsWith(join(root, 'repo.git')) || !existsSync(path) || !statSync(path).isFile()) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      createReadStream(path).pipe(res);
    });
    await new Promise<void>((resolve) => gitServer.listen(0, '127.0.0.1', resolve));
    port = (gitServer.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => gitServer.close(() => resolve()));
    keys.close();
    await handle.dispose();
    rmSync(root, { recursive: true, force: true });
  });

  let watchesOf: (resolve: ResolveAll, allow: readonly string[]) => WatchService;
  const only = (name: string, answer: () => readonly string[]): ResolveAll => async (host) => {
    if (host !== name) throw new Error(`unexpected lookup of ${host}`);
    return answer();
  };

  it('a name checked as an allowed address is not cloned from the address git would resolve it to (DNS rebinding)', async () => {
    const watches = watchesOf(only('localhost', () => ['127.0.0.2']), ['127.0.0.2/32']);
    const w = await watches.add({ source: `http://localhost:${port}/repo.git`, every: '1h' }, admin);
    requests.length = 0;
    const run = await watches.run(w.id, admin);
    expect(run).toMatchObject({ ok: false, error: { code: 'ERR_UPSTREAM' } });
    expect(requests, 'git never reached the unchecked address').toEqual([]);
    expect((await keys.verify(secret, admin)).valid).toBe(true);
    await watches.stop();
  });

  it('a name that resolves to loopback at run time is refused before git runs', async () => {
    let answer = ['93.184.216.34'];
    const watches = watchesOf(only('rebind.keyturn-test.invalid', () => answer), []);
    const w = await watches.add({ source: `http://rebind.keyturn-test.invalid:${port}/repo.git`, every: '1h' }, admin);
    answer = ['127.0.0.1'];
    requests.length = 0;
    const run = await watches.run(w.id, admin);
    expect(run).toMatchObject({ ok: false, error: { code: 'ERR_VALIDATION', message: expect.stringMatching(/resolves to 127\.0\.0\.1, a loopback address/) } });
    expect(requests).toEqual([]);
    await watches.stop();
  });

  it('an allowed host is cloned from the checked address (a name only the guard resolves), and its leaks acted on', async () => {
    const watches = watchesOf(only('git.keyturn-test.invalid', () => ['127.0.0.1']), ['127.0.0.1/32']);
    const w = await watches.add({ source: `http://git.keyturn-test.invalid:${port}/repo.git`, every: '1h', history: true }, admin);
    requests.length = 0;
    const run = await watches.run(w.id, admin);
    expect(run, JSON.stringify(run)).toMatchObject({ ok: true, findings: 1, suspended: 1 });
    expect(requests.some((r) => r.startsWith('/repo.git/info/refs'))).toBe(true);
    expect(await keys.verify(secret, admin)).toEqual({ valid: false, reason: 'suspended' });
    await watches.stop();
  });

  it('real git over ssh connects to the pinned address, whatever GIT_SSH_COMMAND says', async () => {
    // A stand-in `ssh` first on PATH records how git called it; GIT_SSH_COMMAND would send git elsewhere.
    const bin = join(root, 'bin');
    mkdirSync(bin, { recursive: true });
    const log = join(root, 'ssh-args');
    writeFileSync(join(bin, 'ssh'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${log}'\nexit 1\n`);
    chmodSync(join(bin, 'ssh'), 0o755);
    const saved = { PATH: process.env.PATH, GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND };
    process.env.PATH = `${bin}:${process.env.PATH ?? ''}`;
    process.env.GIT_SSH_COMMAND = `sh -c 'echo bypassed > "${log}.bypass"; exit 1' --`;
    try {
      const guard = new EgressGuard({ resolve: only('git.example.com', () => ['93.184.216.34']) });
      const url = 'git@git.example.com:org/repo.git';
      await expect(cloneMirror(url, await guard.pinGit(url, 'source'))).rejects.toMatchObject({ code: 'ERR_UPSTREAM' });
      expect(existsSync(`${log}.bypass`)).toBe(false);
      const args = readFileSync(log, 'utf8').split('\n');
      expect(args).toEqual(expect.arrayContaining(['-o', 'HostName=93.184.216.34', 'HostKeyAlias=git.example.com', 'git@git.example.com']));
    } finally {
      process.env.PATH = saved.PATH;
      if (saved.GIT_SSH_COMMAND === undefined) delete process.env.GIT_SSH_COMMAND;
      else process.env.GIT_SSH_COMMAND = saved.GIT_SSH_COMMAND;
    }
  });

  it('pins each remote form: HTTP(S) by curl resolve, ssh by HostName, git:// by name refused', async () => {
    const guard = new EgressGuard({ resolve: async () => ['93.184.216.34', '2606:2800:220:1::1'] });
    expect(await guard.pinGit('https://git.example.com/org/repo.git', 'source')).toEqual({
      config: ['-c', 'http.curloptResolve=git.example.com:443:93.184.216.34,[2606:2800:220:1::1]', '-c', 'http.followRedirects=false'],
      unsetEnv: [],
    });
    expect((await guard.pinGit('http://git.example.com:8080/r.git', 'source')).config[1]).toBe('http.curloptResolve=git.example.com:8080:93.184.216.34,[2606:2800:220:1::1]');
    expect(await guard.pinGit('git@git.example.com:org/repo.git', 'source')).toEqual({
      config: ['-c', 'core.sshCommand=ssh -o HostName=93.184.216.34 -o HostKeyAlias=git.example.com'],
      unsetEnv: ['GIT_SSH_COMMAND', 'GIT_SSH'],
    });
    expect((await guard.pinGit('ssh://git@git.example.com/org/repo.git', 'source')).config[1]).toMatch(/HostName=93\.184\.216\.34/);
    await expect(guard.pinGit('git://git.example.com/repo.git', 'source')).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    expect(await guard.pinGit('file:///srv/repo.git', 'source')).toEqual({ config: [], unsetEnv: [] });
    const mixed = new EgressGuard({ resolve: async () => ['93.184.216.34', '169.254.169.254'] });
    await expect(mixed.pinGit('https://git.example.com/r.git', 'source')).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    const none = new EgressGuard({ resolve: async () => [] });
    await expect(none.pinGit('https://nowhere.example/r.git', 'source')).rejects.toMatchObject({ code: 'ERR_UPSTREAM' });
  });
});
