import { appendEvent, type RequestMeta } from '../../audit/index.js';
import type { Context } from '../../core/context.js';
import { KeyturnError } from '../../core/errors.js';
import { rekeyFingerprint } from '../../core/fingerprint.js';
import { newId } from '../../core/ids.js';
import { secretDigest, tryParseSecret } from '../../core/secret.js';
import { validate } from '../../core/validate.js';
import type { KeyService } from '../../keys/index.js';
import type { Queryable, Store, Transaction } from '../../store/port.js';
import { classifyFinding, statusOf, type LeakDecision, type LeakMode } from './classify.js';
import { cleanSighting, placeKey } from './clean.js';
import { applyResponse, lookUpCredential, planResponse, statusOfResponse, type OurCredential } from './credentials.js';
import {
  FINGERPRINT,
  MAX_SIGHTINGS,
  type CredentialResponse,
  type FindingView,
  type HeldReason,
  type ReportedFinding,
  type ResponseOutcome,
  type Sighting,
  type TokenReport,
} from './finding.js';
import { addSightings, findingByFingerprint, findingWithPlaces, insertFinding, listFindings, lockFinding, updateFindingResponse, type FindingRecord } from './findings-store.js';
import { leakNotifications, leakPayload, leakTarget, OutboxNotifier, type LeakLogger, type LeakNotifier, type NewFinding, type OwnerLeakWebhooks } from './notify.js';
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
  /** What happens to a live credential found leaked. Per-key policies come with rotation. */
  readonly mode: LeakMode;
  /**
   * Policy consent to suspend (or revoke) the last working admin key when it is found leaked
   * (`leakSuspendLastAdmin`, off by default: it is then reported, not acted on).
   */
  readonly suspendLastAdmin?: boolean;
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
  /** Signed webhooks to owners: when given, an owner is told through these, never through its bare `webhookUrl`. */
  readonly ownerWebhooks?: OwnerLeakWebhooks;
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
  readonly #suspendLastAdmin: boolean;
  readonly #fingerprintKey: Uint8Array;
  readonly #webhookUrl: string | undefined;
  readonly #notifier: LeakNotifier;
  readonly #ownerWebhooks: OwnerLeakWebhooks | undefined;
  readonly #outbox: Outbox;

  constructor(options: LeakResponderOptions) {
    this.#store = options.store;
    this.#ctx = options.ctx;
    this.#keys = options.keys;
    this.#mode = options.mode;
    this.#suspendLastAdmin = options.suspendLastAdmin ?? false;
    this.#fingerprintKey = options.fingerprintKey;
    this.#webhookUrl = options.webhookUrl;
    this.#outbox = options.outbox;
    this.#ownerWebhooks = options.ownerWebhooks;
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
      // Whatever its prefix says, a keyturn-shaped token is looked up where each credential lives.
      const credential = report.shaped ? await lookUpCredential(this.#store, this.#keys, report.tokenHash, this.#ctx.now().getTime()) : undefined;
      answers.push({ tokenHash: report.tokenHash, ours: credential !== undefined });
      if (credential) {
        ours.push({
          fingerprint: report.tokenHash,
          kind: 'keyturn',
          rule: 'keyturn-secret',
          // A public reporter's URL is untrusted text; GitHub's (a signed report) is kept as a URL.
          where: {
            via,
            ...(report.url === undefined ? {} : via === 'report' ? { untrustedUrl: report.url } : { url: report.url }),
            ...(report.source === undefined ? {} : { source: report.source }),
          },
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
    const result = await this.#store.transaction(async (tx) => {
      const recorded = await this.#record(tx, fingerprint, first, now, meta);
      await addSightings(tx, recorded.finding.id, places, now);
      const f = recorded.finding;
      const credential = recorded.credential;
      if (!recorded.news) return { ...recorded, notifications: 0 };
      await appendEvent(
        tx,
        this.#ctx,
        {
          type: 'leak.detected',
          target: f.credential?.id ?? f.keyId ?? f.id,
          outcome: 'success',
          reason: f.status,
          data: {
            finding: f.id,
            fingerprint,
            kind: f.kind,
            rule: f.rule,
            status: f.status,
            principal: f.principal,
            where,
            credential: credential ? { ...credential.ref, response: recorded.response } : null,
            ...(f.held ? { held: f.held } : {}),
            ...(recorded.created ? {} : { repeat: true }),
          },
        },
        meta,
      );
      // In the finding's transaction: the notifications are kept exactly when the finding is.
      const k = credential?.key;
      const found: NewFinding = {
        finding: f,
        action: recorded.action,
        response: recorded.response,
        repeat: !recorded.created,
        successor: recorded.successor,
        where,
        at: now,
        ...(k ? { key: { id: k.id, name: k.name, start: k.start, principal: k.principal, ownerWebhook: credential.ownerWebhook } } : {}),
        ...(credential ? { credential: { ...credential.ref, principal: credential.principal, clientId: credential.clientId, label: credential.label, ownerWebhook: credential.ownerWebhook } } : {}),
      };
      let list = leakNotifications(found, this.#webhookUrl);
      let signed = 0;
      if (this.#ownerWebhooks) {
        list = list.filter((n) => n.to !== 'owner');
        if (credential) signed = await this.#ownerWebhooks.notify(tx, { principal: credential.principal, legacyUrl: credential.ownerWebhook }, leakTarget(found), leakPayload(found));
      }
      await this.#notifier.send(tx, list);
      return { ...recorded, notifications: list.length + signed };
    });
    const { finding } = result;
    return {
      findingId: finding.id,
      fingerprint,
      kind: finding.kind,
      rule: finding.rule,
      status: finding.status,
      keyId: finding.keyId,
      new: result.created,
      action: result.action,
      credential: finding.credential ? { ...finding.credential, response: result.response } : null,
      held: finding.held,
      notifications: result.notifications,
    };
  }

  /**
   * The finding for `fingerprint`, recorded or new, with the response of this sighting: the
   * credential it is is looked up now, on every sighting (a key unsuspended since, or a live
   * credential never acted on, is acted on now). A new finding is inserted by exactly one node
   * (a node that loses the race re-evaluates the winner's, after it commits); a recorded one is
   * locked first, so concurrent sightings act once.
   */
  async #record(
    tx: Transaction,
    fingerprint: string,
    first: ReportedFinding,
    now: number,
    meta: RequestMeta,
  ): Promise<{
    finding: FindingRecord;
    created: boolean;
    /** Something to tell: a new finding, or a recorded one acted on (or held) again. */
    news: boolean;
    credential: OurCredential | undefined;
    action: 'suspended' | 'revoked' | 'none';
    response: CredentialResponse | null;
    /** The successor issued for a leaked API key, if any. */
    successor: string | null;
  }> {
    let existing = await findingByFingerprint(tx, fingerprint);
    if (!existing) {
      const credential = first.kind === 'keyturn' ? await lookUpCredential(tx, this.#keys, fingerprint, now) : undefined;
      const decision = await this.#decide(tx, false, first.kind, credential, meta);
      if (decision === 'already_reported') throw new KeyturnError('ERR_INTERNAL', 'a new finding cannot be already reported');
      const hold = decision === 'hold' ? await this.#holdReason(tx, credential, meta) : null;
      const response = credential && (decision === 'suspend' || decision === 'revoke') ? planResponse(credential, decision) : null;
      const candidate: FindingRecord = {
        id: newId('lkf', this.#ctx),
        fingerprint,
        kind: first.kind.slice(0, 64),
        rule: first.rule.slice(0, 128),
        keyId: credential?.ref.type === 'api_key' ? credential.ref.id : null,
        principal: credential?.principal ?? null,
        status: response ? statusOfResponse(response) : statusOf(decision),
        credential: credential?.ref ?? null,
        held: hold,
        acknowledgedAt: null,
      };
      if (await insertFinding(tx, candidate, now)) {
        const successor = credential && response ? await applyResponse(tx, this.#ctx, this.#keys, credential, response, this.#mode, meta) : null;
        return { finding: candidate, created: true, news: true, credential, action: response ? statusOfResponse(response) : 'none', response, successor };
      }
      existing = await findingByFingerprint(tx, fingerprint);
      if (!existing) throw new KeyturnError('ERR_INTERNAL', 'leak finding vanished');
    }
    // Seen before: someone else's secret only gains places; a keyturn one is decided again.
    const unchanged = { finding: existing, created: false, news: false, credential: undefined, action: 'none' as const, response: null, successor: null };
    if (existing.kind !== 'keyturn') return unchanged;
    const locked = (await lockFinding(tx, existing.id)) ?? existing;
    const credential = await lookUpCredential(tx, this.#keys, fingerprint, now);
    const decision = await this.#decide(tx, true, locked.kind, credential, meta);
    const acting = decision === 'suspend' || decision === 'revoke';
    const hold = decision === 'hold' ? await this.#holdReason(tx, credential, meta) : null;
    // A hold is news when the finding was not held already or had been acknowledged since.
    const news = acting || (decision === 'hold' && (locked.held !== hold || locked.acknowledgedAt !== null));
    if (!credential || !news) return { ...unchanged, finding: locked };
    const response = acting ? planResponse(credential, decision) : null;
    const successor = response ? await applyResponse(tx, this.#ctx, this.#keys, credential, response, this.#mode, meta) : null;
    const status = response ? statusOfResponse(response) : statusOf(decision as Exclude<LeakDecision, 'already_reported'>);
    await updateFindingResponse(tx, locked.id, { status, credential: credential.ref, principal: credential.principal, held: hold, reopen: true });
    const finding: FindingRecord = {
      ...locked,
      status,
      credential: credential.ref,
      keyId: credential.ref.type === 'api_key' ? credential.ref.id : locked.keyId,
      principal: credential.principal,
      held: hold,
      acknowledgedAt: null,
    };
    return { finding, created: false, news: true, credential, action: response ? statusOfResponse(response) : 'none', response, successor };
  }

  async #decide(tx: Transaction, recorded: boolean, kind: string, credential: OurCredential | undefined, meta: RequestMeta): Promise<LeakDecision> {
    const hold = await this.#holdReason(tx, credential, meta);
    return classifyFinding({ recorded, kind, credential: credential?.standing ?? 'none', mode: this.#mode, hold });
  }

  /**
   * Why a live admin key must be left working, if it must: the scan reporting it authenticated
   * with it (`own_credential`, always), or it is the last working admin key and the policy does
   * not consent (`last_admin`).
   */
  async #holdReason(db: Queryable, credential: OurCredential | undefined, meta: RequestMeta): Promise<HeldReason | null> {
    const key = credential?.key;
    if (!key || !key.scopes.includes('admin')) return null;
    if (meta.credential === key.id) return 'own_credential';
    if (this.#suspendLastAdmin) return null;
    return (await this.#keys.otherWorkingKeyWithScope('admin', key.id, db)) ? null : 'last_admin';
  }
}

