/**
 * The canonical record (issue 12 item 3): every declared type maps to a record whose category picks
 * an OCSF class, and a new secret is named in its events by id and an `hmac-sha256:` fingerprint
 * under the deployment salt, never by the secret or its plain digest.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toCanonical } from '../../src/audit/canonical.js';
import { EVENT_CATALOG, type EventType } from '../../src/audit/catalog.js';
import { listEvents, SYSTEM } from '../../src/audit/events.js';
import { toOcsf } from '../../src/audit/formats/ocsf.js';
import { loadConfig } from '../../src/config/load.js';
import { credentialFingerprint, deriveKey } from '../../src/core/fingerprint.js';
import { secretDigest } from '../../src/core/secret.js';
import { loadMasterKey } from '../../src/runtime/master-key.js';
import { openKeyturn, type Keyturn } from '../../src/runtime/open.js';

const stored = (type: string) => ({
  seq: 7,
  id: 'evt_1',
  time: '2026-12-05T08:00:00.000Z',
  type: type as EventType,
  actor: 'prn_1',
  target: 'key_1',
  outcome: 'success' as const,
  reason: null,
  sourceIp: '192.0.2.1',
  requestId: 'req-1',
  data: {},
});

describe('the canonical record', () => {
  it('every declared type maps to its severity and an OCSF class; detections to Detection Finding (2004)', () => {
    for (const type of Object.keys(EVENT_CATALOG) as EventType[]) {
      const record = toCanonical(stored(type));
      expect(record.severity).toBe(EVENT_CATALOG[type].severity);
      const ocsf = toOcsf(record, { version: '0.1.0' });
      const expected = { authentication: 3002, account_change: 3001, entity_management: 3004, api_activity: 6003, detection: 2004 }[EVENT_CATALOG[type].category];
      expect(ocsf.class_uid, type).toBe(expected);
    }
    expect(toCanonical(stored('detection.refresh_reuse')).category).toBe('detection_finding');
    // A type this release does not know (written by a newer one) still maps.
    expect(toCanonical(stored('future.thing'))).toMatchObject({ category: 'api_activity', severity: 'informational', seq: 7, id: 'evt_1' });
  });
});

describe('credential fingerprints in events', () => {
  let dir: string;
  let kt: Keyturn;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyturn-fp-'));
    kt = await openKeyturn(loadConfig({ flags: { dataDir: dir } }));
  });
  afterAll(async () => {
    await kt.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('key.created and key.rotated name the new secret by hmac-sha256 under the deployment salt', async () => {
    const owner = await kt.principals.create({ kind: 'service', name: 'fp' }, SYSTEM);
    const { key, secret } = await kt.keys.create({ owner: owner.id, name: 'k', scopes: ['read'] }, SYSTEM);
    const rotation = await kt.keys.rotate(key.id, { by: 'admin' }, SYSTEM);
    const salt = deriveKey(loadMasterKey(kt.config), 'event-fingerprints/v1');
    const events = await listEvents(kt.store, { limit: 1000 });
    const created = events.find((e) => e.type === 'key.created' && e.target === key.id)!;
    expect(created.data.fingerprint).toBe(credentialFingerprint(secret, salt));
    expect(created.data.fingerprint).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    const rotated = events.find((e) => e.type === 'key.rotated' && e.target === key.id)!;
    const successorSecret = rotation.secret;
    expect(rotated.data.successorFingerprint).toBe(credentialFingerprint(successorSecret, salt));
    // Neither the secret nor its plain digest (what keyturn looks secrets up by) is in any event.
    const all = JSON.stringify(events);
    for (const s of [secret, successorSecret]) {
      expect(all).not.toContain(s);
      expect(all).not.toContain(secretDigest(s));
    }
    // Another deployment's salt gives another fingerprint.
    expect(credentialFingerprint(secret, new Uint8Array(32))).not.toBe(created.data.fingerprint);
  });
});
