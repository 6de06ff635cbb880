/**
 * Two builds of keyturn's token endpoint side by side:
 * `npx tsx bench/token-ab.ts <root-a> <root-b> [--slices 10] [--slice 2] [--connections 50]`.
 *
 * Each root is a checkout with a built `dist/` (e.g. `git worktree add /tmp/before <commit>` and
 * `npm run build` there). Both servers start from their installed bin on their own SQLite data
 * directory; autocannon loads them in alternating slices, so a change of the machine's speed hits
 * both alike. Prints, per build: req/s over all its slices, and CPU per token of the main thread
 * and of the whole process (all threads, from `/proc`; Linux only).
 */
import autocannon from 'autocannon';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { adminCaller, freePort, startChild, waitFor } from './support.js';

/** CPU time (ms) of thread `tid` of process `pid` (the whole process when `tid` is absent). */
function cpuMs(pid: number, tid?: number): number {
  const fields = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { slices: { type: 'string', default: '10' }, slice: { type: 'string', default: '2' }, connections: { type: 'string', default: '50' } },
});
if (positionals.length !== 2) {
  console.error('usage: tsx bench/token-ab.ts <root-a> <root-b> [--slices 10] [--slice 2] [--connections 50]');
  process.exit(2);
}

const servers = await Promise.all(
  positionals.map(async (root) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'keyturn-token-ab-'));
    const port = await freePort();
    const child = startChild([resolve(root, 'dist/cli/keyturn.cjs'), 'serve', '--data-dir', dataDir, '--port', String(port), '--log-level', 'silent'], { env: { NODE_ENV: 'production' } });
    return { root, dataDir, port, child, requests: 0, seconds: 0, mainMs: 0, allMs: 0 };
  }),
);
try {
  const options = [];
  for (const s of servers) {
    const url = `http://127.0.0.1:${s.port}`;
    await waitFor(`${url}/healthz`);
    const client = await adminCaller(url, s.dataDir)('/v1/clients', { name: 'ab', scopes: ['read'], grantTypes: ['client_credentials'], audiences: ['https://api.example.com'] });
    const basic = Buffer.from(`${encodeURIComponent(String(client.client_id))}:${encodeURIComponent(String(client.client_secret))}`).toString('base64');
    const o = {
      url: `${url}/oauth/token`,
      connections: Number(values.connections),
      method: 'POST' as const,
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=read',
    };
    await autocannon({ ...o, duration: 3 });
    options.push(o);
  }
  for (let slice = 0; slice < Number(values.slices); slice++) {
    for (const [i, s] of servers.entries()) {
      const pid = s.child.proc.pid!;
      const [main0, all0] = [cpuMs(pid, pid), cpuMs(pid)];
      const r = await autocannon({ ...options[i]!, duration: Number(values.slice) });
      s.mainMs += cpuMs(pid, pid) - main0;
      s.allMs += cpuMs(pid) - all0;
      s.requests += r.requests.total;
      s.seconds += r.duration;
      if (r.non2xx > 0 || r.errors > 0) console.warn(`  ! ${s.root}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
    }
  }
  for (const s of servers) {
    const per = (ms: number) => Math.round((ms * 1000) / Math.max(1, s.requests));
    console.log(`${s.root}: ${Math.round(s.requests / s.seconds)} req/s, main thread ${per(s.mainMs)} µs and all threads ${per(s.allMs)} µs of CPU per token`);
  }
} finally {
  for (const s of servers) {
    await s.child.stop();
    rmSync(s.dataDir, { recursive: true, force: true });
  }
}
