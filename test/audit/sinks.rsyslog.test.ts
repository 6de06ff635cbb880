/**
 * Audit sinks against a real rsyslog (Debian package `rsyslog` + `rsyslog-gnutls`; `.ci/run`
 * installs them): RFC 5424 over TCP with RFC 6587 octet counting, and over TLS (RFC 5425) with a
 * client certificate the collector requires. The structured data rsyslog received is read back and
 * checked field by field against the events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEvent, listEvents, SYSTEM, type AuditEvent } from '../../src/audit/events.js';
import { canonicalOf } from '../../src/audit/sinks/canonical.js';
import { readCursor } from '../../src/audit/sinks/cursor.js';
import { SinkDispatcher } from '../../src/audit/sinks/dispatcher.js';
import { buildSink, type SinkSpec } from '../../src/audit/sinks/sink.js';
import { manualContext } from '../../src/core/context.js';
import { MIGRATIONS, PRODUCT } from '../../src/runtime/open.js';
import { freshStore, type StoreHandle } from '../support/stores.js';
import { parseCef } from './formats-support.js';
import { eventually, parseStructuredData, rsyslogInstalled, startRsyslog, type Rsyslog } from './sink-support.js';

// CI installs rsyslog (.ci/run); a machine without it fails loudly rather than skipping.
const REQUIRED = process.env.KEYTURN_REQUIRE_SERVICES === '1' || rsyslogInstalled();

describe.runIf(REQUIRED)('audit sinks → a real rsyslog', () => {
  let rsyslog: Rsyslog;
  let handle: StoreHandle;
  let events: AuditEvent[];
  const ctx = manualContext(new Date('2026-12-05T03:04:05.678Z'));
  const hostile = 'quote " backslash \\ bracket ] equals = pipe | newline\nend ünïcödé';

  beforeAll(async () => {
    rsyslog = await startRsyslog();
    handle = await freshStore('sqlite');
    await handle.store.migrate(MIGRATIONS);
    await handle.store.transaction(async (tx) => {
      await appendEvent(tx, ctx, { type: 'key.revoked', target: 'key_1', outcome: 'success', reason: hostile, data: { previous: 'active' } }, { actor: 'prn_admin', sourceIp: '192.0.2.7', requestId: 'req_1' });
      await appendEvent(tx, ctx, { type: 'key.verify_failed', target: null, outcome: 'failure', reason: 'unknown', data: { prefix: 'kt_live' } }, { actor: null, sourceIp: '2001:db8::1', requestId: 'req_2' });
      await appendEvent(tx, ctx, { type: 'policy.weakened', target: 'banking', outcome: 'success', data: { version: 2, changed: ['ttl'], weakened: ['ttl'] } }, SYSTEM);
    });
    events = await listEvents(handle.store);
  }, 60_000);

  afterAll(async () => {
    await handle?.dispose();
    await rsyslog?.stop();
  });

  /** A received line: MSGID, structured data, MSG. */
  const fields = (line: string) => line.split(' @@ ') as [string, string, string];
  /** rsyslog escapes control characters on reception by default (LF → `#012`); nothing else changes. */
  const asReceived = (text: string) => text.replace(/\n/g, '#012');

  it('delivers RFC 5424 over TCP and over TLS with a client certificate; the structured data arrives field by field', async () => {
    const specs: SinkSpec[] = [
      { kind: 'syslog', name: 'tcp', host: '127.0.0.1', port: rsyslog.tcpPort, sdId: 'keyturn@32473', hostname: 'kt-tcp' },
      { kind: 'syslog', name: 'tls', host: '127.0.0.1', port: rsyslog.tlsPort, hostname: 'kt-tls', tls: { ca: rsyslog.pki.ca, cert: rsyslog.pki.clientCert, key: rsyslog.pki.clientKey, servername: 'localhost' } },
    ];
    const dispatcher = new SinkDispatcher({ store: handle.store, ctx, sinks: specs.map((s) => buildSink(s, PRODUCT)) });
    try {
      await dispatcher.deliver('tcp');
      await dispatcher.deliver('tls');
      const lines = await eventually(() => {
        const l = rsyslog.lines();
        return l.length >= 6 ? l : undefined;
      });
      expect(lines).toHaveLength(6);
      // Each sink sent the three events in order; check every one of them, field by field.
      for (const [index, line] of lines.entries()) {
        const event = canonicalOf(events[index % 3]!);
        const [msgid, sdText, msg] = fields(line);
        const sd = parseStructuredData(sdText);
        expect(msgid).toBe(event.type);
        const params = Object.fromEntries(sd.get('keyturn@32473')!);
        const expected: Record<string, string> = {
          seq: String(event.seq),
          id: event.id,
          type: event.type,
          category: event.category,
          severity: event.severity,
          outcome: event.outcome,
        };
        for (const field of ['actor', 'target', 'reason', 'sourceIp', 'requestId'] as const) if (event[field] !== null) expected[field] = asReceived(event[field]);
        if (Object.keys(event.data).length > 0) expected['data'] = JSON.stringify(event.data);
        expect(params).toEqual(expected);
        // The order of the parameters is the documented one.
        expect(sd.get('keyturn@32473')!.map(([n]) => n)).toEqual(Object.keys(expected));
        expect(msg).toContain(event.type);
      }
      // The hostile reason came through intact: quote, backslash, bracket, newline, UTF-8.
      expect(Object.fromEntries(parseStructuredData(fields(lines[0]!)[1]).get('keyturn@32473')!)['reason']).toBe(asReceived(hostile));
      const cursors = await Promise.all(['tcp', 'tls'].map((n) => readCursor(handle.store, n)));
      expect(cursors.map((c) => [c?.position, c?.state])).toEqual([
        [3, 'up'],
        [3, 'up'],
      ]);
    } finally {
      await dispatcher.close();
    }
  }, 60_000);

  it('a TLS sink without the client certificate is refused by rsyslog: it goes down (an event says so) and delivers nothing', async () => {
    const before = rsyslog.lines().length;
    const spec: SinkSpec = { kind: 'syslog', name: 'nocert', host: '127.0.0.1', port: rsyslog.tlsPort, tls: { ca: rsyslog.pki.ca, servername: 'localhost' } };
    const dispatcher = new SinkDispatcher({ store: handle.store, ctx, sinks: [buildSink(spec, PRODUCT)] });
    try {
      // TLS 1.3 finishes the client side before the server checks the certificate: the refusal
      // shows on the first write or the next batch; keep trying until the sink is down.
      const cursor = await eventually(async () => {
        await dispatcher.deliver('nocert');
        const c = await readCursor(handle.store, 'nocert');
        if (c?.state === 'down') return c;
        ctx.advance(600_000);
        return undefined;
      }, 30_000);
      expect(cursor.lastError).toMatch(/./);
      const down = await listEvents(handle.store, { type: 'audit.sink_down' });
      expect(down.map((e) => e.target)).toEqual(['nocert']);
      await new Promise((r) => setTimeout(r, 300));
      expect(rsyslog.lines()).toHaveLength(before);
    } finally {
      await dispatcher.close();
    }
  }, 60_000);

  it('CEF in syslog: the MSG rsyslog received is a CEF line whose escaped fields read back exactly', async () => {
    const dispatcher = new SinkDispatcher({ store: handle.store, ctx, sinks: [buildSink({ kind: 'syslog', name: 'cef', host: '127.0.0.1', port: rsyslog.tcpPort, format: 'cef', types: ['key.revoked'] }, PRODUCT)] });
    try {
      const before = rsyslog.lines().length;
      await dispatcher.deliver('cef');
      const line = await eventually(() => rsyslog.lines().slice(before).find((l) => l.includes('CEF:0')));
      const [msgid, sd, msg] = fields(line);
      expect([msgid, sd]).toEqual(['key.revoked', '-']);
      const cef = parseCef(msg);
      expect(cef.header).toEqual(['CEF:0', 'keyturn', 'keyturn', PRODUCT.version, 'key.revoked', 'key revoked', '3']);
      const ext = Object.fromEntries(cef.extensions);
      // rsyslog keeps the MSG as sent; CEF wrote the newline as the two characters \n.
      expect(ext['reason']).toBe(hostile);
      expect(ext['src']).toBe('192.0.2.7');
      expect(ext['suser']).toBe('prn_admin');
    } finally {
      await dispatcher.close();
    }
  }, 60_000);
});
