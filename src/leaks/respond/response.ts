import { createHash } from 'node:crypto';
import { z } from 'zod';
import { appendEvent, SYSTEM, type RequestMeta } from '../../audit/events.js';
import type { Context } from '../../core/context.js';
import { KeyturnError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { redactSecrets } from '../../core/redact.js';
import { tryParseSecret } from '../../core/secret.js';
import { validate } from '../../core/validate.js';
import type { KeyService } from '../../keys/service.js';
import type { Store, Transaction } from '../../store/port.js';

/**
 * The leak response: what keyturn does when a secret is found somewhere it should not be.
 *
 * Every finding is recorded once per secret (by its SHA-256 fingerprint, never the secret) with
 * the places it was seen. A fingerprint equal to the digest of one of keyturn's API keys is
 * ours: a live key is suspended or revoked (per `leakResponse`) in the same transaction that
 * records the finding and appends `leak.detected`; its owner's webhook and the global webhook
 * are then told. Other secrets (third-party, or keyturn-shaped but not ours) are recorded and
 * reported to the global webhook, never acted on. A secret is acted on and notified once: a
 * second report only adds where it was seen.
 */

/** How a finding reached keyturn. */
export const SIGHTING_VIA = ['scan', 'watch', 'report', 'github'] as const;
export type SightingVia = (typeof SIGHTING_VIA)[number];

/** Where a secret was seen. Text is stripped of URL credentials and keyturn secrets before storage. */
export interface Sighting {
  readonly via: SightingVia;
  /** What was scanned: a path, git URL or `s3://…` URL. */
  readonly source?: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly commit?: string;
  /** Where a reporter saw it (public reports, GitHub). */
  readonly url?: string;
  readonly watchId?: string;
}

/** A finding as the response takes it: the fingerprint stands for the secret. */
export interface ReportedFinding {
  /** SHA-256 (hex) of the secret. */
  readonly fingerprint: string;
  readonly kind: string;
  readonly rule: string;
  readonly where: Sighting;
}

/**
 * What the finding is now: `suspended`/`revoked` (our live key, acted on), `inactive` (our key,
 * already suspended, revoked or retired), `unknown` (keyturn-shaped, not one of our API keys),
 * `third_party` (someone else's secret: reported, not acted on).
 */
export type FindingStatus = 'suspended' | 'revoked' | 'inactive' | 'unknown' | 'third_party';

/** The answer for one distinct secret of a batch. */
export interface ResponseOutcome {
  readonly findingId: string;
  readonly fingerprint: string;
  readonly kind: string;
  readonly rule: string;
  readonly status: FindingStatus;
  readonly keyId: string | null;
  /** `false` when the secret had been reported before: nothing was done again. */
  readonly new: boolean;
  /** What this report did to the key. */
  readonly action: 'suspended' | 'revoked' | 'none';
  /** Webhook deliveries queued by this report. */
  readonly notifications: number;
}

/** A recorded finding as the admin API shows it. */
export interface FindingView {
  readonly id: string;
  readonly fingerprint: string;
  readonly kind: string;
  readonly rule: string;
  readonly status: FindingStatus;
  readonly keyId: string | null;
  readonly principal: string | null;
  readonly sightings: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  /** Only when one finding is read: the places it was seen, newest first. */
  readonly places?: readonly PlaceView[];
}

export interface PlaceView extends Sighting {
  readonly firstSeen: string;
  readonly lastSeen: string;
}

/** At most this many distinct places are kept per finding; later ones only bump `lastSeen`. */
export const MAX_SIGHTINGS = 100;
/** At most this many findings per `POST /v1/leaks/findings`. */
export const MAX_BATCH = 1000;

const HEX64 = /^[0-9a-f]{64}$/;

const findingInput = z.strictObject({
  fingerprint: z.string().regex(HEX64, 'expected the SHA-256 of the secret (64 lower-case hex)'),
  kind: z.string().min(1).max(64),
  rule: z.string().min(1).max(128),
  file: z.string().max(1024).optional(),
  line: z.number().int().min(0).max(1_000_000_000).optional(),
  column: z.number().int().min(0).max(1_000_000_000).optional(),
  commit: z
    .string()
    .regex(/^[0-9a-f]{4,64}$/)
    .optional(),
  atHead: z.boolean().optional(),
  url: z.string().max(2048).optional(),
});

/** Body of `POST /v1/leaks/findings`: the scanner's JSON findings without `match`, bare or as `{source, findings}`. */
export const findingsBodySchema = z.preprocess(
  (value) => (Array.isArray(value) ? { findings: value } : value),
  z.strictObject({
    source: z.string().min(1).max(2048).optional(),
    findings: z.array(findingInput).max(MAX_BATCH),
  }),
);

export const findingsQuerySchema = z.strictObject({
  status: z.enum(['suspended', 'revoked', 'inactive', 'unknown', 'third_party']).optional(),
  key: z.string().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  after: z.string().max(128).optional(),
});

/** One outside report of a token (public report endpoint, GitHub partner program). */
export interface TokenReport {
  readonly token: string;
  readonly url?: string;
  /** GitHub: where it was found (`content`, `commit`, `issue`…). */
  readonly source?: string;
}

/** Minimal logger (pino fits). */
export interface LeakLogger {
  warn(obj: object, msg: string): void;
}

export interface LeakResponderOptions {
  readonly store: Store;
  readonly ctx: Context;
  readonly keys: KeyService;
  /** What happens to a live key found leaked. Per-key policies come with rotation. */
  readonly mode: 'suspend' | 'revoke';
  /** Receives every new finding, in addition to owners' webhooks. */
  readonly webhookUrl?: string;
  readonly webhookTimeoutMs?: number;
  readonly logger?: LeakLogger;
  /** For tests; the global `fetch` by default. */
  readonly fetch?: typeof fetch;
}

interface FindingRow {
  id: string;
  fingerprint: string;
  kind: string;
  rule: string;
  key_id: string | null;
  principal_id: string | null;
  status: FindingStatus;
  sightings: number;
  first_seen: number;
  last_seen: number;
}

interface SightingRow {
  via: SightingVia;
  source: string | null;
  file: string | null;
  line: number | null;
  col: number | null;
  commit_id: string | null;
  url: string | null;
  watch_id: string | null;
  first_seen: number;
  last_seen: number;
}

interface KeyFacts {
  id: string;
  principal_id: string;
  name: string;
  start: string;
  status: string;
  webhook_url: string | null;
}

interface Notification {
  readonly url: string;
  readonly to: 'owner' | 'global';
  readonly target: string;
  readonly payload: Record<string, unknown>;
}

/** SHA-256 hex of a token, as fingerprints and GitHub's `token_hash` are. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Removes credentials from a URL (`https://user:token@host/…` → `https://host/…`); other text is returned as is. */
export function withoutCredentials(text: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return text;
  try {
    const url = new URL(text);
    if (!url.username && !url.password) return text;
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return text.replace(/\/\/[^/@\s]*@/, '//');
  }
}

function clean(text: string | undefined, max: number): string | null {
  if (text === undefined) return null;
  return redactSecrets(withoutCredentials(text)).slice(0, max);
}

function placeOf(s: Sighting): string {
  const parts = [s.via, s.source ?? '', s.file ?? '', s.line ?? '', s.column ?? '', s.commit ?? '', s.url ?? '', s.watchId ?? ''];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

function sightingView(row: SightingRow): PlaceView {
  return {
    via: row.via,
    ...(row.source === null ? {} : { source: row.source }),
    ...(row.file === null ? {} : { file: row.file }),
    ...(row.line === null ? {} : { line: Number(row.line) }),
    ...(row.col === null ? {} : { column: Number(row.col) }),
    ...(row.commit_id === null ? {} : { commit: row.commit_id }),
    ...(row.url === null ? {} : { url: row.url }),
    ...(row.watch_id === null ? {} : { watchId: row.watch_id }),
    firstSeen: new Date(Number(row.first_seen)).toISOString(),
    lastSeen: new Date(Number(row.last_seen)).toISOString(),
  };
}

function findingView(row: FindingRow): FindingView {
  return {
    id: row.id,
    fingerprint: row.fingerprint,
    kind: row.kind,
    rule: row.rule,
    status: row.status,
    keyId: row.key_id,
    principal: row.principal_id,
    sightings: Number(row.sightings),
    firstSeen: new Date(Number(row.first_seen)).toISOString(),
    lastSeen: new Date(Number(row.last_seen)).toISOString(),
  };
}

/** A sighting with every text field cleaned and bounded. */
function cleanSighting(s: Sighting): Sighting {
  const source = clean(s.source, 2048);
  const file = clean(s.file, 1024);
  const url = clean(s.url, 2048);
  return {
    via: s.via,
    ...(source === null ? {} : { source }),
    ...(file === null ? {} : { file }),
    ...(s.line === undefined ? {} : { line: s.line }),
    ...(s.column === undefined ? {} : { column: s.column }),
    ...(s.commit === undefined ? {} : { commit: s.commit.slice(0, 64) }),
    ...(url === null ? {} : { url }),
    ...(s.watchId === undefined ? {} : { watchId: s.watchId }),
  };
}

/**
 * Records findings, acts on keyturn's own leaked keys, and notifies. Webhook deliveries run in
 * the background with a timeout; each one's outcome is a `leak.notified` event.
 *
 * @example
 * ```ts
 * const outcomes = await responder.respond([{ fingerprint, kind: 'keyturn', rule: 'keyturn-secret', where: { via: 'scan', file: '.env', line: 3 } }], meta);
 * outcomes[0].status; // 'suspended'
 * ```
 */
export class LeakResponder {
  readonly #store: Store;
  readonly #ctx: Context;
  readonly #keys: KeyService;
  readonly #mode: 'suspend' | 'revoke';
  readonly #webhookUrl: string | undefined;
  readonly #timeoutMs: number;
  readonly #logger: LeakLogger | undefined;
  readonly #fetch: typeof fetch;
  readonly #pending = new Set<Promise<void>>();

  constructor(options: LeakResponderOptions) {
    this.#store = options.store;
    this.#ctx = options.ctx;
    this.#keys = options.keys;
    this.#mode = options.mode;
    this.#webhookUrl = options.webhookUrl;
    this.#timeoutMs = options.webhookTimeoutMs ?? 5_000;
    this.#logger = options.logger;
    this.#fetch = options.fetch ?? fetch;
  }

  /** Validates a `POST /v1/leaks/findings` body and responds to it. */
  async respondToBody(body: unknown, meta: RequestMeta): Promise<ResponseOutcome[]> {
    if (Array.isArray(body) || (body !== null && typeof body === 'object' && Array.isArray((body as { findings?: unknown }).findings))) {
      const items = (Array.isArray(body) ? body : (body as { findings: unknown[] }).findings) as unknown[];
      const at = items.findIndex((item) => item !== null && typeof item === 'object' && ('match' in item || 'secret' in item));
      if (at >= 0) throw new KeyturnError('ERR_VALIDATION', `findings.${at}: send the fingerprint only, never the secret (drop "match")`);
    }
    const data = validate(findingsBodySchema, body);
    return this.respond(
      data.findings.map((f) => ({
        fingerprint: f.fingerprint,
        kind: f.kind,
        rule: f.rule,
        where: {
          via: 'scan',
          ...(data.source === undefined ? {} : { source: data.source }),
          ...(f.file === undefined ? {} : { file: f.file }),
          ...(f.line === undefined ? {} : { line: f.line }),
          ...(f.column === undefined ? {} : { column: f.column }),
          ...(f.commit === undefined ? {} : { commit: f.commit }),
          ...(f.url === undefined ? {} : { url: f.url }),
        },
      })),
      meta,
    );
  }

  /**
   * Records each distinct secret of `findings` and responds to the new ones. Each secret is one
   * transaction: the finding, its places, the key's suspension or revocation and `leak.detected`
   * commit together. Resolves once recorded; webhooks are delivered afterwards (see {@link idle}).
   */
  async respond(findings: readonly ReportedFinding[], meta: RequestMeta): Promise<ResponseOutcome[]> {
    const groups = new Map<string, ReportedFinding[]>();
    for (const f of findings) {
      if (!HEX64.test(f.fingerprint)) throw new KeyturnError('ERR_VALIDATION', 'fingerprint: expected 64 lower-case hex');
      const group = groups.get(f.fingerprint);
      if (group) group.push(f);
      else groups.set(f.fingerprint, [f]);
    }
    const outcomes: ResponseOutcome[] = [];
    for (const [fingerprint, group] of groups) outcomes.push(await this.#respondOne(fingerprint, group, meta));
    return outcomes;
  }

  /**
   * Outside reports of tokens: only keyturn API keys of this deployment are recorded and acted on;
   * anything else leaves no trace. Answers, per token, its hash and whether it was ours.
   */
  async respondToTokens(reports: readonly TokenReport[], via: 'report' | 'github', meta: RequestMeta): Promise<{ tokenHash: string; ours: boolean }[]> {
    const answers: { tokenHash: string; ours: boolean }[] = [];
    const ours: ReportedFinding[] = [];
    for (const report of reports) {
      const parsed = tryParseSecret(report.token);
      const hash = tokenHash(report.token);
      const key = parsed ? await this.#keys.findByDigest(hash) : undefined;
      answers.push({ tokenHash: hash, ours: key !== undefined });
      if (key) {
        ours.push({
          fingerprint: hash,
          kind: 'keyturn',
          rule: 'keyturn-secret',
          where: { via, ...(report.url === undefined ? {} : { url: report.url }), ...(report.source === undefined ? {} : { source: report.source }) },
        });
      }
    }
    if (ours.length > 0) await this.respond(ours, meta);
    return answers;
  }

  /**
   * Runs `work` in the background (public reports answer before acting, so the answer's timing
   * says nothing about the token); failures are logged. {@link idle} waits for it.
   */
  later(work: () => Promise<unknown>): void {
    this.#track(
      work().then(
        () => undefined,
        (err: unknown) => this.#logger?.warn({ err }, 'leak report processing failed'),
      ),
    );
  }

  /** Resolves when every background delivery and report has finished. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Findings, newest first by id order of a page (`after` is the last id of the previous page). */
  async list(query: unknown = {}): Promise<FindingView[]> {
    const q = validate(findingsQuerySchema, query);
    const where = ['id > ?'];
    const params: (string | number)[] = [q.after ?? ''];
    if (q.status) {
      where.push('status = ?');
      params.push(q.status);
    }
    if (q.key) {
      where.push('key_id = ?');
      params.push(q.key);
    }
    params.push(q.limit ?? 100);
    const rows = await this.#store.all<FindingRow>(`SELECT * FROM leak_findings WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`, params);
    return rows.map(findingView);
  }

  /** One finding with the places it was seen. */
  async get(id: string): Promise<FindingView> {
    const row = await this.#store.get<FindingRow>('SELECT * FROM leak_findings WHERE id = ?', [id]);
    if (!row) throw new KeyturnError('ERR_NOT_FOUND', 'no such finding');
    const places = await this.#store.all<SightingRow>('SELECT * FROM leak_sightings WHERE finding_id = ? ORDER BY last_seen DESC, place LIMIT ?', [
      id,
      MAX_SIGHTINGS,
    ]);
    return { ...findingView(row), places: places.map(sightingView) };
  }

  async #respondOne(fingerprint: string, group: readonly ReportedFinding[], meta: RequestMeta): Promise<ResponseOutcome> {
    const first = group[0]!;
    const now = this.#ctx.now().getTime();
    const places = new Map<string, Sighting>();
    for (const f of group) {
      if (places.size >= MAX_SIGHTINGS) break; // the same secret in thousands of files: the first places tell enough
      const s = cleanSighting(f.where);
      places.set(placeOf(s), s);
    }
    const result = await this.#store.transaction(async (tx) => {
      let row = await tx.get<FindingRow>('SELECT * FROM leak_findings WHERE fingerprint = ?', [fingerprint]);
      let created = false;
      let key: KeyFacts | undefined;
      if (!row) {
        key = await tx.get<KeyFacts>(
          `SELECT k.id, k.principal_id, k.name, k.start, k.status, p.webhook_url
           FROM api_keys k JOIN principals p ON p.id = k.principal_id WHERE k.digest = ?`,
          [fingerprint],
        );
        const live = key !== undefined && (key.status === 'active' || key.status === 'rotating');
        const status: FindingStatus = key
          ? live
            ? this.#mode === 'revoke'
              ? 'revoked'
              : 'suspended'
            : 'inactive'
          : first.kind === 'keyturn'
            ? 'unknown'
            : 'third_party';
        const candidate: FindingRow = {
          id: newId('lkf', this.#ctx),
          fingerprint,
          kind: first.kind.slice(0, 64),
          rule: first.rule.slice(0, 128),
          key_id: key?.id ?? null,
          principal_id: key?.principal_id ?? null,
          status,
          sightings: 0,
          first_seen: now,
          last_seen: now,
        };
        // ON CONFLICT: when two nodes record the same secret at once, exactly one inserts and acts.
        const inserted = await tx.run(
          `INSERT INTO leak_findings (id, fingerprint, kind, rule, key_id, principal_id, status, sightings, first_seen, last_seen)
           VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (fingerprint) DO NOTHING`,
          [candidate.id, fingerprint, candidate.kind, candidate.rule, candidate.key_id, candidate.principal_id, status, now, now],
        );
        if (inserted.changes === 1) {
          created = true;
          row = candidate;
          if (key && status === 'suspended') await this.#keys.suspendIn(tx, key.id, meta, 'leak detected');
          if (key && status === 'revoked') await this.#keys.revokeIn(tx, key.id, meta, 'leak detected');
        } else {
          row = await tx.get<FindingRow>('SELECT * FROM leak_findings WHERE fingerprint = ?', [fingerprint]);
          if (!row) throw new KeyturnError('ERR_INTERNAL', 'leak finding vanished');
        }
      }
      await this.#recordPlaces(tx, row.id, places, now);
      const count = await tx.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM leak_sightings WHERE finding_id = ?', [row.id]);
      await tx.run('UPDATE leak_findings SET last_seen = ?, sightings = ? WHERE id = ?', [now, Number(count?.n ?? 0), row.id]);
      const where = places.values().next().value as Sighting;
      if (created) {
        await appendEvent(
          tx,
          this.#ctx,
          {
            type: 'leak.detected',
            target: row.key_id ?? row.id,
            outcome: 'success',
            reason: row.status,
            data: { finding: row.id, fingerprint, kind: row.kind, rule: row.rule, status: row.status, principal: row.principal_id, where },
          },
          meta,
        );
      }
      return { row, created, key, where };
    });
    const { row, created, key, where } = result;
    const action = created && (row.status === 'suspended' || row.status === 'revoked') ? row.status : 'none';
    let notifications = 0;
    if (created) {
      const payload = {
        type: 'leak.detected',
        time: new Date(now).toISOString(),
        finding: { id: row.id, fingerprint, kind: row.kind, rule: row.rule, status: row.status, firstSeen: new Date(now).toISOString() },
        key: key ? { id: key.id, name: key.name, start: key.start, principal: key.principal_id, action } : null,
        where,
        // Offered once the rotation capability exists; until then the owner creates a new key.
        successor: null,
      };
      const target = row.key_id ?? row.id;
      const list: Notification[] = [];
      if (key?.webhook_url) list.push({ url: key.webhook_url, to: 'owner', target, payload });
      if (this.#webhookUrl) list.push({ url: this.#webhookUrl, to: 'global', target, payload });
      for (const n of list) this.#track(this.#deliver(n));
      notifications = list.length;
    }
    return { findingId: row.id, fingerprint, kind: row.kind, rule: row.rule, status: row.status, keyId: row.key_id, new: created, action, notifications };
  }

  async #recordPlaces(tx: Transaction, findingId: string, places: ReadonlyMap<string, Sighting>, now: number): Promise<void> {
    const row = await tx.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM leak_sightings WHERE finding_id = ?', [findingId]);
    let room = MAX_SIGHTINGS - Number(row?.n ?? 0);
    for (const [place, s] of places) {
      if (room <= 0) {
        await tx.run('UPDATE leak_sightings SET last_seen = ? WHERE finding_id = ? AND place = ?', [now, findingId, place]);
        continue;
      }
      const inserted = await tx.run(
        `INSERT INTO leak_sightings (finding_id, place, via, source, file, line, col, commit_id, url, watch_id, first_seen, last_seen)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (finding_id, place) DO UPDATE SET last_seen = excluded.last_seen`,
        [
          findingId,
          place,
          s.via,
          s.source ?? null,
          s.file ?? null,
          s.line ?? null,
          s.column ?? null,
          s.commit ?? null,
          s.url ?? null,
          s.watchId ?? null,
          now,
          now,
        ],
      );
      if (inserted.changes > 0) room--;
    }
  }

  #track(promise: Promise<void>): void {
    this.#pending.add(promise);
    void promise.finally(() => this.#pending.delete(promise));
  }

  /** One POST with a timeout, never following redirects; the outcome becomes a `leak.notified` event. */
  async #deliver(n: Notification): Promise<void> {
    let status: number | null = null;
    let failure: string | null = null;
    try {
      const response = await this.#fetch(n.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'keyturn-leak-notifier', 'keyturn-event': 'leak.detected' },
        body: JSON.stringify(n.payload),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = response.status;
      await response.body?.cancel().catch(() => undefined);
      if (status < 200 || status >= 300) failure = `HTTP ${status}`;
    } catch (err) {
      failure = (err as Error)?.name === 'TimeoutError' ? 'timeout' : 'unreachable';
    }
    let origin = 'invalid-url';
    try {
      origin = new URL(n.url).origin;
    } catch {
      // keep the placeholder: the URL itself may carry a token
    }
    const finding = (n.payload.finding as { id: string }).id;
    try {
      await this.#store.transaction((tx) =>
        appendEvent(
          tx,
          this.#ctx,
          { type: 'leak.notified', target: n.target, outcome: failure ? 'failure' : 'success', reason: failure, data: { finding, to: n.to, origin, status } },
          SYSTEM,
        ),
      );
    } catch (err) {
      this.#logger?.warn({ err, finding, to: n.to }, 'could not record a leak notification');
    }
    if (failure) this.#logger?.warn({ finding, to: n.to, origin, failure }, 'leak webhook delivery failed');
  }
}
