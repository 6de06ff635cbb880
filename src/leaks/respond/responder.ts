import { appendEvent, type RequestMeta } from '../../audit/index.js';
import type { Context } from '../../core/context.js';
import { KeyturnError } from '../../core/errors.js';
import { rekeyFingerprint } from '../../core/fingerprint.js';
import { newId } from '../../core/ids.js';
import { secretDigest, tryParseSecret } from '../../core/secret.js';
import { validate } from '../../core/validate.js';
import type { KeyService, KeyView } from '../../keys/index.js';
import type { Store, Transaction } from '../../store/port.js';
import { classifyFinding, statusOf, type LeakMode } from './classify.js';
import { cleanSighting, placeKey } from './clean.js';
import { FINGERPRINT, MAX_SIGHTINGS, type FindingView, type ReportedFinding, type ResponseOutcome, type Sighting, type TokenReport } from './finding.js';
import { addSightings, findingByFingerprint, findingWithPlaces, insertFinding, listFindings, type FindingRecord } from './findings-store.js';
import { leakNotifications, OutboxNotifier, type LeakLogger, type LeakNotifier, type NewFinding } from './notify.js';
import type { Outbox } from '../../jobs/index.js';
import { findingsQuerySchema, parseFindingsBody } from './schemas.js';

/**
 * The leak response: what keyturn does when a secret is found somewhere it should not be.
 *
 * Every finding is recorded once per secret (by its SHA-256 fingerprint, never the secret) with
 * the places it was seen. A fingerprint equal to the digest of one of keyturn's API keys is
 * ours: a live key is suspended or revoked (per `leakResponse`, see {@link classifyFinding})
 * through the keys capability, in the same transaction that records the finding and appends
 * `leak.detected`; its owner's webhook and the global webhook are then told. Other secrets
 * (third-party, or keyturn-shaped but not ours) are recorded and reported to the global webhook,
 * never acted on. A secret is acted on and notified once: a second report only adds where it
 * was seen.
 */

/** What a {@link LeakResponder} is built from; `mode` and the webhook come from configuration. */
export interface LeakResponderOptions {
  readonly store: Store;
  readonly ctx: Context;
  readonly keys: KeyService;
  /** What happens to a live key found leaked. Per-key policies come with rotation. */
  readonly mode: LeakMode;
  /**
   * The deployment's fingerprint key: a reported non-keyturn fingerprint is stored keyed again
   * under it (`rekeyFingerprint`), so `leak_findings` and `leak.detected` never hold one that a
   * dictionary reverses, whoever made it and however.
   */
  readonly fingerprintKey: Uint8Array;
  /** Receives every new finding, in addition to owners' webhooks. */
  readonly webhookUrl?: string;
  /**
   * The durable outbox: notifications (through an {@link OutboxNotifier} unless `notifier` says
   * otherwise) and public reports waiting to be looked up are messages in it, so a crash loses none.
   */
  readonly outbox: Outbox;
  /** Where notifications go; an {@link OutboxNotifier} on `outbox` by default. */
  readonly notifier?: LeakNotifier;
  readonly logger?: LeakLogger;
}

/** A public report as kept until it is looked up: the token's digest, never the token. */
export interface QueuedReport {
  readonly tokenHash: string;
  /** The token had keyturn's format (only such tokens can be ours). */
  readonly shaped: boolean;
  readonly url?: string;
  readonly source?: string;
}

/** The outbox message of one public report batch. */
export interface LeakReportMessage {
  readonly via: 'report';
  readonly reports: readonly QueuedReport[];
  readonly sourceIp: string | null;
  readonly requestId: string | null;
}

declare module '../../jobs/outbox.js' {
  interface OutboxKinds {
    'leak.report': LeakReportMessage;
  }
}

/** The outbox topic of queued public reports. */
export const LEAK_REPORT_TOPIC = 'leak.report';

/** A reported token as kept: its digest and whether it has keyturn's shape; the token itself is dropped here. */
function queued(report: TokenReport): QueuedReport {
  return {
    tokenHash: secretDigest(report.token),
    shaped: tryParseSecret(report.token) !== undefined,
    ...(report.url === undefined ? {} : { url: report.url }),
    ...(report.source === undefined ? {} : { source: report.source }),
  };
}

/** The key a new finding is, with its owner's webhook. */
interface OurKey {
  readonly view: KeyView;
  readonly ownerWebhook: string | null;
}

/**
 * Records findings, acts on keyturn's own leaked keys, and notifies.
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
  readonly #mode: LeakMode;
  readonly #fingerprintKey: Uint8Array;
  readonly #webhookUrl: string | undefined;
  readonly #notifier: LeakNotifier;
  readonly #outbox: Outbox;

  constructor(options: LeakResponderOptions) {
    this.#store = options.store;
    this.#ctx = options.ctx;
    this.#keys = options.keys;
    this.#mode = options.mode;
    this.#fingerprintKey = options.fingerprintKey;
    this.#webhookUrl = options.webhookUrl;
    this.#outbox = options.outbox;
    this.#notifier = options.notifier ?? new OutboxNotifier({ outbox: options.outbox, ctx: options.ctx, ...(options.logger ? { logger: options.logger } : {}) });
    // Queued public reports are looked up by whichever node's runner claims them.
    options.outbox.deliverer('leak.report', async (request) => {
      const { reports, via, sourceIp, requestId } = request.data;
      await this.#respondToDigests(reports, via, { actor: null, actorKind: null, sourceIp, requestId });
      return { ok: true };
    });
  }

  /** Validates a `POST /v1/leaks/findings` body and responds to it. */
  async respondToBody(body: unknown, meta: RequestMeta): Promise<ResponseOutcome[]> {
    return this.respond(parseFindingsBody(body), meta);
  }

  /**
   * Records each distinct secret of `findings` and responds to the new ones. Each secret is one
   * transaction: the finding, its places, the key's suspension or revocation and `leak.detected`
   * commit together. Resolves once recorded; webhooks are delivered afterwards (see {@link idle}).
   */
  async respond(findings: readonly ReportedFinding[], meta: RequestMeta): Promise<ResponseOutcome[]> {
    const groups = new Map<string, ReportedFinding[]>();
    for (const f of findings) {
      if (!FINGERPRINT.test(f.fingerprint)) throw new KeyturnError('ERR_VALIDATION', 'fingerprint: expected 64 lower-case hex');
      const group = groups.get(f.fingerprint);
      if (group) group.push(f);
      else groups.set(f.fingerprint, [f]);
    }
    const outcomes: ResponseOutcome[] = [];
    for (const [fingerprint, group] of groups) {
      // keyturn's own secrets keep their digest (it is how they are looked up); anything else is keyed again.
      const stored = group[0]!.kind === 'keyturn' ? fingerprint : rekeyFingerprint(fingerprint, this.#fingerprintKey);
      outcomes.push({ ...(await this.#respondOne(stored, group, meta)), fingerprint });
    }
    return outcomes;
  }

  /**
   * Outside reports of tokens: only keyturn API keys of this deployment are recorded and acted on;
   * anything else leaves no trace. Answers, per token, its hash and whether it was ours.
   */
  async respondToTokens(reports: readonly TokenReport[], via: 'report' | 'github', meta: RequestMeta): Promise<{ tokenHash: string; ours: boolean }[]> {
    return this.#respondToDigests(reports.map(queued), via, meta);
  }

  /**
   * Keeps a public report to look up later, durably (an outbox message holding the tokens'
   * digests, never a token): the answer does not wait for the lookup, so its timing says nothing
   * about the token, and a crash in between loses nothing.
   */
  async queueReport(reports: readonly TokenReport[], meta: RequestMeta): Promise<void> {
    // Only keyturn-shaped tokens can be ours: the digest of anything else (a password someone
    // reported) is not kept, not even in the queue.
    const shaped = reports.map(queued).filter((r) => r.shaped);
    if (shaped.length === 0) return;
    const message: LeakReportMessage = { via: 'report', reports: shaped, sourceIp: meta.sourceIp ?? null, requestId: meta.requestId ?? null };
    await this.#store.transaction((tx) => this.#outbox.enqueue(tx, { kind: 'leak.report', data: message, topic: LEAK_REPORT_TOPIC }));
  }

  async #respondToDigests(reports: readonly QueuedReport[], via: 'report' | 'github', meta: RequestMeta): Promise<{ tokenHash: string; ours: boolean }[]> {
    const answers: { tokenHash: string; ours: boolean }[] = [];
    const ours: ReportedFinding[] = [];
    for (const report of reports) {
      const key = report.shaped ? await this.#keys.findByDigest(report.tokenHash) : undefined;
      answers.push({ tokenHash: report.tokenHash, ours: key !== undefined });
      if (key) {
        ours.push({
          fingerprint: report.tokenHash,
          kind: 'keyturn',
          rule: 'keyturn-secret',
          where: { via, ...(report.url === undefined ? {} : { url: report.url }), ...(report.source === undefined ? {} : { source: report.source }) },
        });
      }
    }
    if (ours.length > 0) await this.respond(ours, meta);
    return answers;
  }

  /** Records that an outside report was refused before anything was looked up (bad signature, unknown key). */
  async recordRejectedReport(via: 'github', reason: string, meta: RequestMeta): Promise<void> {
    await this.#store.transaction((tx) =>
      appendEvent(tx, this.#ctx, { type: 'leak.report_rejected', target: null, outcome: 'failure', reason, data: { via } }, meta),
    );
  }

  /**
   * Resolves when every queued report has been looked up and every notification handed over so
   * far has had its first attempt (delivering what is due now, as the runner would).
   */
  async idle(): Promise<void> {
    await this.#outbox.firstAttempts([LEAK_REPORT_TOPIC]);
    await this.#notifier.idle();
  }

  /** Findings in id order, one page (`after` is the last id of the previous page). */
  async list(query: unknown = {}): Promise<FindingView[]> {
    return listFindings(this.#store, validate(findingsQuerySchema, query));
  }

  /** One finding with the places it was seen. */
  async get(id: string): Promise<FindingView> {
    const finding = await findingWithPlaces(this.#store, id);
    if (!finding) throw new KeyturnError('ERR_NOT_FOUND', 'no such finding');
    return finding;
  }

  async #respondOne(fingerprint: string, group: readonly ReportedFinding[], meta: RequestMeta): Promise<ResponseOutcome> {
    const first = group[0]!;
    const now = this.#ctx.now().getTime();
    const places = new Map<string, Sighting>();
    for (const f of group) {
      if (places.size >= MAX_SIGHTINGS) break; // the same secret in thousands of files: the first places tell enough
      const s = cleanSighting(f.where);
      places.set(placeKey(s), s);
    }
    const where = places.values().next().value as Sighting;
    const { finding, created, action, notifications } = await this.#store.transaction(async (tx) => {
      const recorded = await this.#record(tx, fingerprint, first, now, meta);
      await addSightings(tx, recorded.finding.id, places, now);
      if (recorded.created) {
        const f = recorded.finding;
        await appendEvent(
          tx,
          this.#ctx,
          {
            type: 'leak.detected',
            target: f.keyId ?? f.id,
            outcome: 'success',
            reason: f.status,
            data: { finding: f.id, fingerprint, kind: f.kind, rule: f.rule, status: f.status, principal: f.principal, where },
          },
          meta,
        );
      }
      const action: 'suspended' | 'revoked' | 'none' =
        recorded.created && (recorded.finding.status === 'suspended' || recorded.finding.status === 'revoked') ? recorded.finding.status : 'none';
      if (recorded.created) {
        // In the finding's transaction: the notifications are kept exactly when the finding is.
        const k = recorded.key;
        const found: NewFinding = {
          finding: recorded.finding,
          action,
          where,
          at: now,
          ...(k ? { key: { id: k.view.id, name: k.view.name, start: k.view.start, principal: k.view.principal, ownerWebhook: k.ownerWebhook } } : {}),
        };
        const list = leakNotifications(found, this.#webhookUrl);
        await this.#notifier.send(tx, list);
        return { ...recorded, action, notifications: list.length };
      }
      return { ...recorded, action, notifications: 0 };
    });
    return {
      findingId: finding.id,
      fingerprint,
      kind: finding.kind,
      rule: finding.rule,
      status: finding.status,
      keyId: finding.keyId,
      new: created,
      action,
      notifications,
    };
  }

  /**
   * The finding for `fingerprint`: the recorded one, or a new one classified and acted on. Only
   * the node whose insert wins acts; a node that loses the race reads the winner's.
   */
  async #record(
    tx: Transaction,
    fingerprint: string,
    first: ReportedFinding,
    now: number,
    meta: RequestMeta,
  ): Promise<{ finding: FindingRecord; created: boolean; key: OurKey | undefined }> {
    const existing = await findingByFingerprint(tx, fingerprint);
    const key = existing ? undefined : await this.#ourKey(tx, fingerprint);
    const decision = classifyFinding({ recorded: existing !== undefined, kind: first.kind, key: key?.view.status ?? 'none', mode: this.#mode });
    if (decision === 'already_reported') return { finding: existing!, created: false, key: undefined };
    const candidate: FindingRecord = {
      id: newId('lkf', this.#ctx),
      fingerprint,
      kind: first.kind.slice(0, 64),
      rule: first.rule.slice(0, 128),
      keyId: key?.view.id ?? null,
      principal: key?.view.principal ?? null,
      status: statusOf(decision),
    };
    if (!(await insertFinding(tx, candidate, now))) {
      const winner = await findingByFingerprint(tx, fingerprint);
      if (!winner) throw new KeyturnError('ERR_INTERNAL', 'leak finding vanished');
      return { finding: winner, created: false, key };
    }
    if (key && decision === 'suspend') await this.#keys.suspendIn(tx, key.view.id, meta, 'leak detected');
    if (key && decision === 'revoke') await this.#keys.revokeIn(tx, key.view.id, meta, 'leak detected');
    return { finding: candidate, created: true, key };
  }

  /** The API key of this server whose digest is `fingerprint`, with its owner's webhook. */
  async #ourKey(tx: Transaction, fingerprint: string): Promise<OurKey | undefined> {
    const view = await this.#keys.findByDigest(fingerprint, tx);
    if (!view) return undefined;
    const owner = await this.#keys.ownerOf(view, tx);
    // A key always has its owner (a foreign key to principals); without one it is not ours to act on.
    if (!owner) return undefined;
    return { view, ownerWebhook: owner.webhookUrl };
  }
}
