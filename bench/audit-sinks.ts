/**
 * Audit sinks benchmark (issue 12): `npx tsx bench/audit-sinks.ts [--duration 10] [--connections 50] [--rounds 2]`,
 * or `npm run bench -- --only audit`.
 *
 * Valid-key `POST /v1/keys/verify` throughput of a real keyturn (`node dist/cli/main.js serve`,
 * SQLite) with auditing off (no sinks, no usage records, no detections) versus every sink on:
 * syslog RFC 5424 over TCP (an RFC 6587 receiver in this process), CEF in syslog, JSON lines, CEF
 * and OCSF files, Splunk HEC with acknowledgements (a receiver in this process), usage records and
 * the detection engine. A background writer creates an event every 20 ms during the load so the
 * sinks have a stream to deliver. Rounds alternate off/on. Target: on ≥ 85% of off.
 * Figures are from a shared machine: compare them within one run only.
 */
import autocannon from 'autocannon';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureBuild, freePort, startChild, waitFor, adminCaller } from './support.js';

export const AUDIT_TARGETS = { sinksOnVsOff: 0.85 } as const;

export interface AuditBenchResults {
  readonly durationSec: number;
  readonly connections: number;
  readonly rounds: number;
  readonly offReqPerSec: number;
  readonly onReqPerSec: number;
  readonly onVsOff: number;
  readonly delivered: { readonly syslogMessages: number; readonly hecEnvelopes: number };
  readonly targetMet: boolean;
  readonly note: string;
}

/** Receivers for the sinks: octet-counted syslog and a HEC endpoint that acknowledges at once. */
async function receivers() {
  let syslogMessages = 0;
  let hecEnvelopes = 0;
  const syslog = net.createServer((socket) => {
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const space = buffer.indexOf(0x20);
        if (space < 0) return;
        const length = Number(buffer.subarray(0, space).toString('ascii'));
        if (buffer.length < space + 1 + length) return;
        syslogMessages++;
        buffer = buffer.subarray(space + 1 + length);
      }
    });
  });
  let ack = 0;
  const hec = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      res.setHeader('content-type', 'application/json');
      if (req.url === '/services/collector/ack') {
        const { acks } = JSON.parse(body) as { acks: number[] };
        res.end(JSON.stringify({ acks: Object.fromEntries(acks.map((a) => [String(a), true])) }));
        return;
      }
      hecEnvelopes += body.split('\n').length;
      res.end(JSON.stringify({ text: 'Success', code: 0, ackId: ack++ }));
    });
  });
  await new Promise<void>((r) => syslog.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => hec.listen(0, '127.0.0.1', r));
  return {
    syslogPort: (syslog.address() as net.AddressInfo).port,
    hecUrl: `http://127.0.0.1:${(hec.address() as net.AddressInfo).port}`,
    counts: () => ({ syslogMessages, hecEnvelopes }),
    async close() {
      syslog.close();
      hec.close();
      hec.closeAllConnections();
    },
  };
}

async function measure(env: NodeJS.ProcessEnv, duration: number, connections: number): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyturn-audit-bench-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = startChild(['dist/cli/main.js', 'serve', '--data-dir', dataDir, '--port', String(port), '--log-level', 'silent'], { env: { ...env, KEYTURN_AUDIT_SINKS: env['KEYTURN_AUDIT_SINKS']?.replaceAll('@DIR@', dataDir) } });
  try {
    await waitFor(`${url}/healthz`);
    const call = adminCaller(url, dataDir);
    await call('/v1/principals', { kind: 'service', name: 'bench' });
    const key = (await call('/v1/keys', { owner: 'bench', name: 'bench', scopes: ['read'] })).key as string;
    const valid = { url: `${url}/v1/keys/verify`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }), connections };
    await autocannon({ ...valid, duration: Math.min(2, duration) });
    // A stream of events while the load runs: one principal every 20 ms.
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing) {
        await call('/v1/principals', { kind: 'service', name: `p${n++}` }).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const result = await autocannon({ ...valid, duration });
    writing = false;
    await writer;
    if (result.non2xx > 0) throw new Error(`${result.non2xx} non-2xx answers`);
    return result.requests.average;
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function runAuditBench(options: { durationSec?: number; connections?: number; rounds?: number } = {}): Promise<AuditBenchResults> {
  const duration = options.durationSec ?? 10;
  const connections = options.connections ?? 50;
  const rounds = options.rounds ?? 2;
  ensureBuild();
  const rx = await receivers();
  const off = { KEYTURN_USAGE_INTERVAL: '0', KEYTURN_DETECTIONS: JSON.stringify({ enabled: false }), KEYTURN_AUDIT_SINKS: '[]' };
  const sinks = [
    { kind: 'syslog', name: 'syslog', host: '127.0.0.1', port: rx.syslogPort },
    { kind: 'syslog', name: 'syslog-cef', host: '127.0.0.1', port: rx.syslogPort, format: 'cef' },
    { kind: 'file', name: 'jsonl', path: '@DIR@/audit.jsonl' },
    { kind: 'file', name: 'cef', path: '@DIR@/audit.cef', format: 'cef' },
    { kind: 'file', name: 'ocsf', path: '@DIR@/audit.ocsf', format: 'ocsf' },
    { kind: 'splunk_hec', name: 'splunk', url: rx.hecUrl, token: 'bench-token', ackTimeoutMs: 5000 },
  ];
  const on = { KEYTURN_USAGE_INTERVAL: '1m', KEYTURN_DETECTIONS: JSON.stringify({ enabled: true }), KEYTURN_AUDIT_SINKS: JSON.stringify(sinks) };
  const offRuns: number[] = [];
  const onRuns: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      offRuns.push(await measure(off, duration, connections));
      onRuns.push(await measure(on, duration, connections));
    }
  } finally {
    await rx.close();
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const share = mean(onRuns) / mean(offRuns);
  return {
    durationSec: duration,
    connections,
    rounds,
    offReqPerSec: Math.round(mean(offRuns)),
    onReqPerSec: Math.round(mean(onRuns)),
    onVsOff: Math.round(share * 1000) / 1000,
    delivered: rx.counts(),
    targetMet: share >= AUDIT_TARGETS.sinksOnVsOff,
    note: 'one machine shared with other work; keyturn, autocannon and the receivers share its cores',
  };
}

export function printAudit(r: AuditBenchResults): void {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  console.log(`audit sinks (${r.durationSec}s × ${r.rounds} rounds each, ${r.connections} connections, one keyturn on SQLite, an event every 20 ms during the load):`);
  console.log(`  valid-key verify, auditing off:  ${r.offReqPerSec} req/s`);
  console.log(`  valid-key verify, every sink on: ${r.onReqPerSec} req/s = ${pct(r.onVsOff)} of off (target ≥ ${pct(AUDIT_TARGETS.sinksOnVsOff)}: ${r.targetMet ? 'met' : 'MISSED'})`);
  console.log(`  delivered meanwhile: ${r.delivered.syslogMessages} syslog messages, ${r.delivered.hecEnvelopes} HEC envelopes`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '50' }, rounds: { type: 'string', default: '2' } } });
  printAudit(await runAuditBench({ durationSec: Number(values.duration), connections: Number(values.connections), rounds: Number(values.rounds) }));
}
