/**
 * Detection rules on sample event streams, each positive and negative, and the engine that runs
 * them over the log with its own cursor (findings recorded once, automatic suspension).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DetectionEngine } from '../../src/audit/detections/engine.js';
import {
  adminKeyCreated,
  bindingMismatch,
  credentialMisuse,
  DEFAULT_DETECTION_SETTINGS,
  failureBurst,
  isOffHours,
  issuanceBurst,
  multiNetwork,
  newNetwork,
  policyWeakened,
  refreshTokenReuse,
  sequenceGap,
  sinkDown,
  type Finding,
  type Rule,
} from '../../src/audit/detections/rules.js';
import { appendEvent, listEvents, SYSTEM, type AuditEvent } from '../../src/audit/events.js';
import { readCursor } from '../../src/audit/sinks/cursor.js';
import { manualContext } from '../../src/core/context.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

const T0 = Date.parse('2026-12-05T12:00:00Z');
let seq = 0;
/** A stored-looking event at `T0 + atMs`. */
function ev(type: string, over: Partial<AuditEvent> & { atMs?: number } = {}): AuditEvent {
  seq++;
  const { atMs = 0, ...rest } = over;
  return { seq, id: `evt_${seq}`, time: new Date(T0 + atMs).toISOString(), type: type as AuditEvent['type'], actor: null, target: null, outcome: 'success', reason: null, sourceIp: null, requestId: null, data: {}, ...rest };
}
const run = (rule: Rule, events: AuditEvent[]): Finding[] => events.flatMap((e) => rule.observe(e));

describe('detection rules', () => {
  beforeEach(() => {
    seq = 0;
  });

  it('refresh-token reuse: the inline detection becomes a high finding on the grant; nothing else does', () => {
    const found = run(refreshTokenReuse(), [ev('token.refreshed', { target: 'ktc_1' }), ev('detection.refresh_reuse', { target: 'grt_1', outcome: 'failure' })]);
    expect(found).toEqual([expect.objectContaining({ rule: 'refresh_token_reuse', severity: 'high', target: 'grt_1', evidence: ['evt_2'] })]);
    expect(run(refreshTokenReuse(), [ev('token.refreshed')])).toEqual([]);
  });

  it('credential misuse: a revoked, suspended or expired key presented again, once per key and reason per window; unknown keys are not misuse', () => {
    const rule = credentialMisuse(300_000);
    const found = run(rule, [
      ev('key.verify_failed', { target: 'key_1', reason: 'revoked', outcome: 'failure' }),
      ev('key.verify_failed', { target: 'key_1', reason: 'revoked', outcome: 'failure', atMs: 1_000 }),
      ev('admin.auth_failed', { target: 'key_2', reason: 'suspended', outcome: 'failure' }),
      ev('audit.failures_summarized', { target: 'key_3', reason: 'expired', outcome: 'failure', data: { of: 'key.verify_failed', count: 4 } }),
      ev('key.verify_failed', { target: 'key_1', reason: 'revoked', outcome: 'failure', atMs: 301_000 }),
    ]);
    expect(found.map((f) => [f.target, f.severity])).toEqual([
      ['key_1', 'high'],
      ['key_2', 'high'],
      ['key_3', 'medium'],
      ['key_1', 'high'],
    ]);
    expect(run(credentialMisuse(300_000), [ev('key.verify_failed', { target: null, reason: 'unknown' }), ev('key.verify_failed', { target: 'key_1', reason: 'malformed' })])).toEqual([]);
  });

  it('failure burst: per credential and per network at the threshold within the window, counting summaries; below it or spread out, nothing', () => {
    const rule = failureBurst({ count: 5, window: 60_000 });
    const events = [
      ev('key.verify_failed', { target: 'key_1', reason: 'revoked', sourceIp: '198.51.100.1' }),
      ev('audit.failures_summarized', { target: 'key_1', reason: 'revoked', data: { of: 'key.verify_failed', count: 3, network: '198.51.100.1' }, atMs: 30_000 }),
      ev('key.verify_failed', { target: 'key_1', reason: 'revoked', sourceIp: '198.51.100.1', atMs: 40_000 }),
    ];
    const found = run(rule, events);
    expect(found.map((f) => [f.target, f.count, f.suspendKey])).toEqual([
      ['key_1', 5, 'key_1'],
      ['198.51.100.1', 5, undefined],
    ]);
    // Four failures, or five spread over more than the window: quiet.
    expect(run(failureBurst({ count: 5, window: 60_000 }), events.slice(0, 2).map((e) => ({ ...e })))).toEqual([]);
    const spread = [0, 20_000, 40_000, 70_000, 90_000].map((atMs) => ev('client.auth_failed', { target: 'ktc_1', sourceIp: '2001:db8:1:2::7', atMs }));
    expect(run(failureBurst({ count: 5, window: 60_000 }), spread)).toEqual([]);
  });

  it('new network: fires on a key used from a network new to it, not on its first use or known networks', () => {
    const found = run(newNetwork(), [
      ev('key.used', { target: 'key_1', data: { network: '192.0.2.1', count: 3, newNetwork: false, firstUse: true } }),
      ev('key.used', { target: 'key_1', data: { network: '192.0.2.1', count: 1, newNetwork: false, firstUse: false } }),
      ev('key.used', { target: 'key_1', data: { network: '203.0.113.9', count: 1, newNetwork: true, firstUse: false } }),
    ]);
    expect(found).toEqual([expect.objectContaining({ rule: 'new_network', target: 'key_1', networks: ['203.0.113.9'], evidence: ['evt_3'] })]);
  });

  it('multi network: one key from two networks within the window fires once; the same networks further apart do not', () => {
    const used = (network: string, atMs: number) =>
      ev('key.used', { target: 'key_1', atMs, data: { network, count: 1, firstAt: new Date(T0 + atMs).toISOString(), lastAt: new Date(T0 + atMs).toISOString(), newNetwork: false, firstUse: false } });
    const found = run(multiNetwork({ count: 2, window: 600_000 }), [used('192.0.2.1', 0), used('203.0.113.9', 60_000), used('203.0.113.9', 120_000)]);
    expect(found.map((f) => [f.target, f.networks])).toEqual([['key_1', ['192.0.2.1', '203.0.113.9']]]);
    expect(run(multiNetwork({ count: 2, window: 600_000 }), [used('192.0.2.1', 0), used('203.0.113.9', 3_600_000)])).toEqual([]);
    expect(run(multiNetwork({ count: 2, window: 600_000 }), [used('192.0.2.1', 0), used('192.0.2.1', 60_000)])).toEqual([]);
  });

  it('issuance burst: tokens issued to one client past the threshold in the window; other clients counted apart', () => {
    const rule = issuanceBurst({ count: 3, window: 60_000 });
    const found = run(rule, [ev('token.issued', { target: 'ktc_1' }), ev('token.issued', { target: 'ktc_2' }), ev('token.issued', { target: 'ktc_1' }), ev('token.exchanged', { target: 'ktc_1', atMs: 10_000 })]);
    expect(found.map((f) => [f.target, f.count])).toEqual([['ktc_1', 3]]);
    expect(run(issuanceBurst({ count: 3, window: 60_000 }), [ev('token.issued', { target: 'ktc_1' }), ev('token.issued', { target: 'ktc_1', atMs: 61_000 })])).toEqual([]);
  });

  it('issuance burst at volume: 300,000 tokens to one client fire once per window, each counting only its window, with the newest evidence', () => {
    const rule = issuanceBurst({ count: 100_000, window: 3_600_000 });
    const found: Finding[] = [];
    // A token every 18 ms: 200,000 an hour, for an hour and a half.
    for (let i = 0; i < 300_000; i++) found.push(...rule.observe(ev('token.issued', { target: 'ktc_busy', atMs: i * 18 })));
    // The first at the 100,000th token; the next one window later, when the window holds 200,000.
    expect(found.map((f) => f.count)).toEqual([100_000, 200_000]);
    expect(found[0]!.evidence).toHaveLength(20);
    expect(found[0]!.evidence.at(-1)).toBe('evt_100000');
    expect(found[1]!.evidence.at(-1)).toBe('evt_300000');
  });

  it('admin key created: medium in office hours, high off-hours (window wrapping midnight, offset applied); non-admin keys are not findings', () => {
    const offHours = { start: 20, end: 7, utcOffsetMinutes: 60 };
    const created = (scopes: string[], iso: string) => ({ ...ev('key.created', { target: 'key_a', data: { scopes } }), time: iso });
    const rule = adminKeyCreated(offHours);
    expect(rule.observe(created(['admin'], '2026-12-05T12:00:00Z')).map((f) => f.severity)).toEqual(['medium']);
    expect(rule.observe(created(['admin'], '2026-12-05T19:30:00Z')).map((f) => f.severity)).toEqual(['high']); // 20:30 local
    expect(rule.observe(created(['admin'], '2026-12-05T05:30:00Z')).map((f) => f.severity)).toEqual(['high']); // 06:30 local
    expect(rule.observe(created(['admin'], '2026-12-05T06:30:00Z')).map((f) => f.severity)).toEqual(['medium']); // 07:30 local
    expect(rule.observe(created(['read'], '2026-12-05T23:00:00Z'))).toEqual([]);
    expect(isOffHours(Date.parse('2026-12-05T06:30:00Z'), { start: 20, end: 7, utcOffsetMinutes: 0 })).toBe(true);
    expect(isOffHours(Date.parse('2026-12-05T07:00:00Z'), { start: 20, end: 7, utcOffsetMinutes: 0 })).toBe(false);
  });

  it('policy weakened and sink down: each such event is a finding; others are not', () => {
    expect(run(policyWeakened(), [ev('policy.updated', { target: 'banking' }), ev('policy.weakened', { target: 'banking', data: { weakened: ['accessTtl'] } })]).map((f) => [f.target, f.title])).toEqual([['banking', 'policy weakened (accessTtl)']]);
    expect(run(sinkDown(), [ev('audit.sink_recovered', { target: 'siem' }), ev('audit.sink_down', { target: 'siem' })]).map((f) => [f.target, f.severity])).toEqual([['siem', 'high']]);
  });

  it('sequence gap: a missing seq is a critical finding; a contiguous stream is not', () => {
    const rule = sequenceGap(10);
    const at = (n: number) => ({ ...ev('key.revoked'), seq: n });
    expect(run(rule, [at(11), at(12), at(15), at(16)]).map((f) => [f.count, f.severity])).toEqual([[2, 'critical']]);
    expect(run(sequenceGap(0), [at(1), at(2), at(3)])).toEqual([]);
    // A batch read again (a retried run) is no gap.
    expect(run(sequenceGap(0), [at(1), at(2), at(1), at(2), at(3)])).toEqual([]);
  });

  it('new and multi network also watch client secrets and refresh families (credential.used), naming no key to suspend', () => {
    const used = (network: string, atMs: number, over: Record<string, unknown> = {}) =>
      ev('credential.used', { target: 'grt_1', atMs, data: { credential: 'refresh_token', network, count: 1, firstAt: new Date(T0 + atMs).toISOString(), lastAt: new Date(T0 + atMs).toISOString(), newNetwork: false, firstUse: false, ...over } });
    const fresh = run(newNetwork(), [used('192.0.2.1', 0, { firstUse: true }), used('198.51.100.9', 1_000, { newNetwork: true })]);
    expect(fresh.map((f) => [f.target, f.networks, f.suspendKey])).toEqual([['grt_1', ['198.51.100.9'], undefined]]);
    const multi = run(multiNetwork({ count: 2, window: 600_000 }), [used('192.0.2.1', 0), used('198.51.100.9', 60_000)]);
    expect(multi.map((f) => [f.target, f.count, f.suspendKey])).toEqual([['grt_1', 2, undefined]]);
  });

  it('binding mismatch: a stolen bound token (wrong DPoP key, replayed proof, wrong certificate, other TLS session) is a high finding; misconfigured clients are not', () => {
    const key = 'key_0UZ7aXk2Qm3nT8pLr5vWxY';
    const stolen = [
      ev('binding.dpop_failed', { target: 'app', outcome: 'failure', reason: 'key_mismatch', sourceIp: '203.0.113.5', data: { jkt: 'x', grantType: 'refresh_token' } }),
      ev('binding.dpop_failed', { target: 'app', outcome: 'failure', reason: 'replay', sourceIp: '203.0.113.5', atMs: 1_000 }),
      ev('binding.tls_failed', { target: key, outcome: 'failure', reason: 'wrong_certificate', sourceIp: '198.51.100.7', data: { binding: 'api-key', at: 'keys.verify' } }),
      ev('binding.tls_failed', { target: null, outcome: 'failure', reason: 'other_tls_session', sourceIp: '198.51.100.8', data: { binding: 'tls-session', at: 'token' } }),
    ];
    const found = run(bindingMismatch(), stolen);
    // One per credential per window (the replay right after the key mismatch on `app` is evidence-only quiet), a key can be suspended.
    expect(found.map((f) => [f.rule, f.severity, f.target, f.suspendKey, f.networks])).toEqual([
      ['binding_mismatch', 'high', 'app', undefined, ['203.0.113.5']],
      ['binding_mismatch', 'high', key, key, ['198.51.100.7']],
      ['binding_mismatch', 'high', '198.51.100.8', undefined, ['198.51.100.8']],
    ]);
    expect(found[0]!.title).toMatch(/key_mismatch.*stolen bound token/);
    // Negative: handshakes and misconfiguration — a missing proof, a stale nonce, a bad signature,
    // no certificate, plain TCP, a middlebox — are no theft; nor are other failures with like reasons.
    const benign = [
      ev('binding.dpop_failed', { target: 'app', outcome: 'failure', reason: 'missing' }),
      ev('binding.dpop_failed', { target: 'app', outcome: 'failure', reason: 'nonce' }),
      ev('binding.dpop_failed', { target: 'app', outcome: 'failure', reason: 'signature' }),
      ev('binding.tls_failed', { target: 'app', outcome: 'failure', reason: 'missing_certificate' }),
      ev('binding.tls_failed', { target: 'app', outcome: 'failure', reason: 'not_tls' }),
      ev('binding.tls_failed', { target: 'app', outcome: 'failure', reason: 'middlebox' }),
      ev('client.auth_failed', { target: 'app', outcome: 'failure', reason: 'replay' }),
      ev('audit.failures_summarized', { target: 'app', outcome: 'failure', reason: 'nonce', data: { of: 'binding.dpop_failed', count: 50, network: '203.0.113.0' } }),
    ];
    expect(run(bindingMismatch(), benign)).toEqual([]);
  });

  it('binding mismatch thresholds: count within the window per credential, summaries counting with their number; quiet for a window after firing', () => {
    const rule = bindingMismatch({ count: 5, window: 60_000 });
    const mismatch = (atMs: number, target = 'app') => ev('binding.dpop_failed', { target, outcome: 'failure', reason: 'key_mismatch', sourceIp: '203.0.113.5', atMs });
    // Four, spread over more than a window: nothing.
    expect(run(rule, [mismatch(0), mismatch(30_000), mismatch(61_000), mismatch(200_000)])).toEqual([]);
    // The first in full, then a summary of four more within the window: five, one finding.
    const summary = ev('audit.failures_summarized', { target: 'other', outcome: 'failure', reason: 'key_mismatch', atMs: 310_000, data: { of: 'binding.dpop_failed', count: 4, network: '203.0.113.5' } });
    const first = mismatch(300_000, 'other');
    const found = run(rule, [first, summary, mismatch(320_000, 'other')]);
    expect(found.map((f) => [f.target, f.count])).toEqual([['other', 5]]);
    expect(found[0]!.evidence).toEqual([first.id, summary.id]);
  });
});

describeStore('detection engine', (kind) => {
  let handle: StoreHandle;
  const ctx = manualContext(new Date('2026-12-05T12:00:00Z'));
  beforeEach(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
  });
  afterEach(async () => handle.dispose());

  it('follows the log with its own cursor, records each finding once as detection.finding, and suspends when the rule is configured to', async () => {
    const suspended: string[] = [];
    const make = () =>
      new DetectionEngine({
        store: handle.store,
        ctx,
        settings: { ...DEFAULT_DETECTION_SETTINGS, failureBurst: { count: 3, window: 60_000 } },
        suspendOn: ['failure_burst', 'binding_mismatch'],
        suspendKey: async (id) => void suspended.push(id),
        from: 'start',
      });
    const engine = make();
    await handle.store.transaction(async (tx) => {
      for (let i = 0; i < 3; i++) await appendEvent(tx, ctx, { type: 'key.verify_failed', target: 'key_1', outcome: 'failure', reason: 'revoked', data: {} }, { actor: null, sourceIp: `192.0.2.${i}` });
      await appendEvent(tx, ctx, { type: 'policy.weakened', target: 'banking', outcome: 'success', data: { version: 2, changed: ['accessTtl'], weakened: ['accessTtl'] } }, SYSTEM);
    });
    await engine.run();
    const findings = await listEvents(handle.store, { type: 'detection.finding' });
    expect(findings.map((f) => [f.data['rule'], f.target, f.data['severity'], f.data['response']])).toEqual([
      ['credential_misuse', 'key_1', 'high', 'none'],
      ['failure_burst', 'key_1', 'medium', 'suspended'],
      ['policy_weakened', 'banking', 'medium', 'none'],
    ]);
    expect(suspended).toEqual(['key_1']);
    expect((await readCursor(handle.store, 'detections'))!.position).toBe(4);
    // A second run (or a new engine taking over, warmed up on the log) finds nothing new: its own
    // findings are no findings, and the burst it already reported stays reported.
    await engine.run();
    const other = make();
    await handle.store.transaction(async (tx) => appendEvent(tx, ctx, { type: 'key.verify_failed', target: 'key_1', outcome: 'failure', reason: 'revoked', data: {} }, { actor: null, sourceIp: '192.0.2.9' }));
    await other.run();
    expect(await listEvents(handle.store, { type: 'detection.finding' })).toHaveLength(3);
    expect((await readCursor(handle.store, 'detections'))!.position).toBe(8);
  });

  it('a key presented with the wrong certificate is a binding_mismatch finding; with the rule in suspendOn the key is suspended, otherwise not', async () => {
    const key = 'key_0UZ7aXk2Qm3nT8pLr5vWxY';
    await handle.store.transaction(async (tx) => {
      await appendEvent(tx, ctx, { type: 'binding.tls_failed', target: key, outcome: 'failure', reason: 'wrong_certificate', data: { binding: 'api-key', at: 'keys.verify' } }, { actor: null, sourceIp: '198.51.100.7' });
      await appendEvent(tx, ctx, { type: 'binding.dpop_failed', target: 'cl_app', outcome: 'failure', reason: 'nonce', data: {} }, { actor: null, sourceIp: '198.51.100.7' });
    });
    for (const suspendOn of [[], ['binding_mismatch']] as const) {
      const suspended: string[] = [];
      const engine = new DetectionEngine({ store: handle.store, ctx, settings: DEFAULT_DETECTION_SETTINGS, suspendOn, suspendKey: async (id) => void suspended.push(id), from: 'start' });
      await handle.store.run('DELETE FROM audit_sink_cursors');
      const before = (await listEvents(handle.store, { type: 'detection.finding' })).length;
      await engine.run();
      const findings = (await listEvents(handle.store, { type: 'detection.finding' })).slice(before);
      expect(findings.map((f) => [f.data['rule'], f.target, f.data['severity'], f.data['response']])).toEqual([['binding_mismatch', key, 'high', suspendOn.length ? 'suspended' : 'none']]);
      expect(suspended).toEqual(suspendOn.length ? [key] : []);
    }
  });

  it('revokes the family or disables the client through the given functions when the rule is in suspendOn; reports `none` when there was nothing left to do, `failed` when it threw', async () => {
    const grant = 'grt_0UZ7aXk2Qm3nT8pLr5vWxY';
    const client = 'ktc_0UZ7aXk2Qm3nT8pLr5vWxY';
    const gone = 'grt_1UZ7aXk2Qm3nT8pLr5vWxY';
    const broken = 'ktc_1UZ7aXk2Qm3nT8pLr5vWxY';
    await handle.store.transaction(async (tx) => {
      const at = { actor: null, sourceIp: '198.51.100.7' };
      await appendEvent(tx, ctx, { type: 'binding.dpop_failed', target: grant, outcome: 'failure', reason: 'key_mismatch', data: { client } }, at);
      await appendEvent(tx, ctx, { type: 'binding.dpop_failed', target: client, outcome: 'failure', reason: 'replay', data: {} }, at);
      await appendEvent(tx, ctx, { type: 'binding.dpop_failed', target: gone, outcome: 'failure', reason: 'key_mismatch', data: {} }, at);
      await appendEvent(tx, ctx, { type: 'binding.dpop_failed', target: broken, outcome: 'failure', reason: 'channel', data: {} }, at);
    });
    for (const suspendOn of [[], ['binding_mismatch']] as const) {
      const acted: string[] = [];
      const engine = new DetectionEngine({
        store: handle.store,
        ctx,
        settings: DEFAULT_DETECTION_SETTINGS,
        suspendOn,
        revokeGrant: async (id) => (acted.push(`revoke ${id}`), id !== gone),
        disableClient: async (id) => {
          if (id === broken) throw new Error('store down');
          acted.push(`disable ${id}`);
          return true;
        },
        from: 'start',
      });
      await handle.store.run('DELETE FROM audit_sink_cursors');
      const before = (await listEvents(handle.store, { type: 'detection.finding' })).length;
      await engine.run();
      const findings = (await listEvents(handle.store, { type: 'detection.finding' })).slice(before);
      const on = suspendOn.length > 0;
      expect(findings.map((f) => [f.target, f.data['response']])).toEqual([
        [grant, on ? 'revoked' : 'none'],
        [client, on ? 'disabled' : 'none'],
        [gone, 'none'],
        [broken, on ? 'failed' : 'none'],
      ]);
      expect(acted).toEqual(on ? [`revoke ${grant}`, `disable ${client}`, `revoke ${gone}`] : []);
    }
  });
});

describe('binding mismatch: what the response may act on', () => {
  it('names the key to suspend, the refresh family to revoke, or the client to disable, by the kind of the credential refused; nothing for a network', () => {
    const key = 'key_0UZ7aXk2Qm3nT8pLr5vWxY';
    const grant = 'grt_0UZ7aXk2Qm3nT8pLr5vWxY';
    const client = 'ktc_0UZ7aXk2Qm3nT8pLr5vWxY';
    const found = run(bindingMismatch(), [
      ev('binding.dpop_failed', { target: grant, outcome: 'failure', reason: 'key_mismatch', sourceIp: '203.0.113.5', data: { jkt: 'x', grantType: 'refresh_token', client } }),
      ev('binding.dpop_failed', { target: client, outcome: 'failure', reason: 'replay', sourceIp: '203.0.113.5' }),
      ev('binding.tls_failed', { target: key, outcome: 'failure', reason: 'wrong_certificate', sourceIp: '198.51.100.7', data: { binding: 'api-key', at: 'keys.verify' } }),
      ev('binding.tls_failed', { target: null, outcome: 'failure', reason: 'other_tls_session', sourceIp: '198.51.100.8', data: { binding: 'tls-session', at: 'token' } }),
    ]);
    expect(found.map((f) => [f.target, f.suspendKey, f.revokeGrant, f.disableClient])).toEqual([
      [grant, undefined, grant, undefined],
      [client, undefined, undefined, client],
      [key, key, undefined, undefined],
      ['198.51.100.8', undefined, undefined, undefined],
    ]);
  });
});
