/**
 * Detection rules over the event stream. Each rule is a small state machine fed every event in log
 * order ({@link Rule.observe}); it returns the findings that event completes. Rules do no I/O and
 * read the time only from the events, so a stream replayed gives the same findings.
 */
import { isIdOf } from '../../core/ids.js';
import { sourceNetwork } from '../../core/network.js';
import type { Severity } from '../catalog.js';
import type { AuditEvent } from '../events.js';

export const RULE_IDS = [
  'refresh_token_reuse',
  'credential_misuse',
  'failure_burst',
  'new_network',
  'multi_network',
  'issuance_burst',
  'admin_key_created',
  'policy_weakened',
  'sink_down',
  'sequence_gap',
  'binding_mismatch',
] as const;
export type RuleId = (typeof RULE_IDS)[number];

/** What a rule found. */
export interface Finding {
  readonly rule: RuleId;
  readonly title: string;
  readonly severity: Severity;
  /** What it is about: a key, client, grant, policy or sink id, or a source network. */
  readonly target: string | null;
  /** Ids of the events that made it fire (at most 20, newest last). */
  readonly evidence: readonly string[];
  readonly count?: number;
  readonly networks?: readonly string[];
  /** A key the response may suspend (only when the rule is in `suspendOn`). */
  readonly suspendKey?: string;
  /** A refresh family (grant) the response may revoke with its tokens (only when the rule is in `suspendOn`). */
  readonly revokeGrant?: string;
  /** An OAuth client the response may disable (only when the rule is in `suspendOn`). */
  readonly disableClient?: string;
}

export interface Rule {
  readonly id: RuleId;
  observe(event: AuditEvent): Finding[];
}

/** Thresholds, as `audit.detections` configures them (windows in ms). */
export interface DetectionSettings {
  readonly failureBurst: { readonly count: number; readonly window: number };
  readonly multiNetwork: { readonly count: number; readonly window: number };
  readonly issuanceBurst: { readonly count: number; readonly window: number };
  /** Hours (0–23, local to `utcOffsetMinutes`) from `start` to `end` count as off-hours. */
  readonly offHours: { readonly start: number; readonly end: number; readonly utcOffsetMinutes: number };
  /** Bound credentials presented with the wrong binding: `count` within `window` per credential (default 1 in 10 minutes). */
  readonly bindingMismatch?: { readonly count: number; readonly window: number };
}

export const DEFAULT_DETECTION_SETTINGS: DetectionSettings = {
  failureBurst: { count: 20, window: 300_000 },
  multiNetwork: { count: 2, window: 600_000 },
  issuanceBurst: { count: 100, window: 3_600_000 },
  offHours: { start: 20, end: 7, utcOffsetMinutes: 0 },
  bindingMismatch: { count: 1, window: 600_000 },
};

const MAX_EVIDENCE = 20;
/** Most subjects a windowed rule tracks; the stalest are dropped past it (bounded memory). */
const MAX_SUBJECTS = 50_000;

const timeOf = (event: AuditEvent) => Date.parse(event.time);

/** Time buckets per window: a window's edge is exact to a thousandth of the window. */
const BUCKETS_PER_WINDOW = 1000;

interface WindowEntry {
  /** Counts per time bucket, oldest first, from `head` on (`at` is the bucket's first hit). */
  buckets: { at: number; n: number }[];
  head: number;
  /** The sum of the buckets from `head` on: kept as hits come and go, never recounted. */
  total: number;
  /** The newest hits' ids (at most {@link MAX_EVIDENCE}). */
  recent: { at: number; id: string }[];
  firedAt: number;
}

/**
 * Sliding-window counter per subject: fires once when the sum in the window reaches the
 * threshold, then stays quiet for that subject until a window has passed. Constant time per hit
 * and bounded memory per subject (at most {@link BUCKETS_PER_WINDOW} buckets): a client issued a
 * million tokens an hour costs as much to watch as one issued ten.
 */
class WindowCounter {
  readonly #entries = new Map<string, WindowEntry>();
  readonly threshold: number;
  readonly windowMs: number;
  readonly #bucketMs: number;

  constructor(threshold: number, windowMs: number) {
    this.threshold = threshold;
    this.windowMs = windowMs;
    this.#bucketMs = Math.max(1, Math.floor(windowMs / BUCKETS_PER_WINDOW));
  }

  /** Adds `n` at `at`; resolves the total and evidence when this addition crosses the threshold. */
  add(subject: string, at: number, n: number, id: string): { total: number; evidence: string[] } | undefined {
    let entry = this.#entries.get(subject);
    if (!entry) {
      if (this.#entries.size >= MAX_SUBJECTS) this.#entries.delete(this.#entries.keys().next().value!);
      entry = { buckets: [], head: 0, total: 0, recent: [], firedAt: -Infinity };
      this.#entries.set(subject, entry);
    }
    const last = entry.buckets.length > entry.head ? entry.buckets[entry.buckets.length - 1]! : undefined;
    if (last !== undefined && at >= last.at && at - last.at < this.#bucketMs) last.n += n;
    else entry.buckets.push({ at, n });
    entry.total += n;
    const from = at - this.windowMs;
    while (entry.head < entry.buckets.length && entry.buckets[entry.head]!.at <= from) entry.total -= entry.buckets[entry.head++]!.n;
    if (entry.head > 64 && entry.head * 2 > entry.buckets.length) {
      entry.buckets = entry.buckets.slice(entry.head);
      entry.head = 0;
    }
    entry.recent.push({ at, id });
    if (entry.recent.length > MAX_EVIDENCE) entry.recent.shift();
    if (entry.total < this.threshold || at - entry.firedAt < this.windowMs) return undefined;
    entry.firedAt = at;
    return { total: entry.total, evidence: entry.recent.filter((h) => h.at > from).map((h) => h.id) };
  }
}

/** `detection.refresh_reuse` (recorded inline by the token endpoint) as a finding in the common stream. */
export function refreshTokenReuse(): Rule {
  return {
    id: 'refresh_token_reuse',
    observe(event) {
      if (event.type !== 'detection.refresh_reuse') return [];
      return [{ rule: 'refresh_token_reuse', title: 'refresh token reused: its family was revoked', severity: 'high', target: event.target, evidence: [event.id] }];
    },
  };
}

const MISUSE_REASONS: Readonly<Record<string, Severity>> = { revoked: 'high', suspended: 'high', expired: 'medium' };

/**
 * A revoked, suspended (a leaked key is suspended) or expired key presented again: once per key
 * and reason per `window` (summaries of aggregated failures count too).
 */
export function credentialMisuse(windowMs: number): Rule {
  const seen = new Map<string, number>();
  return {
    id: 'credential_misuse',
    observe(event) {
      const summarized = event.type === 'audit.failures_summarized';
      const of = summarized ? String(event.data['of']) : event.type;
      if (of !== 'key.verify_failed' && of !== 'admin.auth_failed') return [];
      const severity = MISUSE_REASONS[event.reason ?? ''];
      if (severity === undefined || event.target === null) return [];
      const key = `${event.target}\u0000${event.reason}`;
      const at = timeOf(event);
      if (at - (seen.get(key) ?? -Infinity) < windowMs) return [];
      if (seen.size >= MAX_SUBJECTS) seen.delete(seen.keys().next().value!);
      seen.set(key, at);
      return [{ rule: 'credential_misuse', title: `use of a ${event.reason} credential`, severity, target: event.target, evidence: [event.id] }];
    },
  };
}

/** Failed verifications per credential and per source network: `count` within `window`. */
export function failureBurst(settings: DetectionSettings['failureBurst']): Rule {
  const perCredential = new WindowCounter(settings.count, settings.window);
  const perNetwork = new WindowCounter(settings.count, settings.window);
  return {
    id: 'failure_burst',
    observe(event) {
      const summarized = event.type === 'audit.failures_summarized';
      const of = summarized ? String(event.data['of']) : event.type;
      if (of !== 'key.verify_failed' && of !== 'admin.auth_failed' && of !== 'client.auth_failed' && of !== 'token.introspection_failed') return [];
      const n = summarized ? Number(event.data['count']) || 0 : 1;
      const network = summarized ? String(event.data['network'] ?? 'unknown') : sourceNetwork(event.sourceIp);
      const at = timeOf(event);
      const out: Finding[] = [];
      if (event.target !== null) {
        const hit = perCredential.add(event.target, at, n, event.id);
        if (hit) {
          const isKey = of === 'key.verify_failed' || of === 'admin.auth_failed';
          out.push({ rule: 'failure_burst', title: `burst of failed verifications of one credential (${hit.total} in the window)`, severity: 'medium', target: event.target, evidence: hit.evidence, count: hit.total, ...(isKey ? { suspendKey: event.target } : {}) });
        }
      }
      if (network !== 'unknown' && network !== 'many') {
        const hit = perNetwork.add(network, at, n, event.id);
        if (hit) out.push({ rule: 'failure_burst', title: `burst of failed verifications from one network (${hit.total} in the window)`, severity: 'medium', target: network, evidence: hit.evidence, count: hit.total, networks: [network] });
      }
      return out;
    },
  };
}

/** A credential (API key, client secret, refresh family) used from a network none of its earlier usage records names (its very first use excepted). */
export function newNetwork(): Rule {
  return {
    id: 'new_network',
    observe(event) {
      if ((event.type !== 'key.used' && event.type !== 'credential.used') || event.data['newNetwork'] !== true) return [];
      const network = String(event.data['network']);
      const key = event.type === 'key.used' && event.target ? { suspendKey: event.target } : {};
      return [{ rule: 'new_network', title: 'credential first seen from a new network', severity: 'low', target: event.target, evidence: [event.id], networks: [network], ...key }];
    },
  };
}

/** One credential (API key, client secret, refresh family) used from `count` or more networks within `window` (usage records' times); only a key is suspended. */
export function multiNetwork(settings: DetectionSettings['multiNetwork']): Rule {
  const keys = new Map<string, { networks: Map<string, { lastAt: number; id: string }>; firedAt: number }>();
  return {
    id: 'multi_network',
    observe(event) {
      if ((event.type !== 'key.used' && event.type !== 'credential.used') || event.target === null) return [];
      const network = String(event.data['network']);
      if (network === 'unknown' || network === 'many') return [];
      const firstAt = Date.parse(String(event.data['firstAt'])) || timeOf(event);
      const lastAt = Date.parse(String(event.data['lastAt'])) || timeOf(event);
      let entry = keys.get(event.target);
      if (!entry) {
        if (keys.size >= MAX_SUBJECTS) keys.delete(keys.keys().next().value!);
        entry = { networks: new Map(), firedAt: -Infinity };
        keys.set(event.target, entry);
      }
      entry.networks.set(network, { lastAt, id: event.id });
      for (const [n, seen] of entry.networks) if (seen.lastAt < firstAt - settings.window) entry.networks.delete(n);
      if (entry.networks.size < settings.count || lastAt - entry.firedAt < settings.window) return [];
      entry.firedAt = lastAt;
      const networks = [...entry.networks.keys()].sort();
      return [
        {
          rule: 'multi_network',
          title: `one credential used from ${networks.length} networks within the window`,
          severity: 'medium',
          target: event.target,
          evidence: [...entry.networks.values()].map((s) => s.id).slice(-MAX_EVIDENCE),
          count: networks.length,
          networks,
          ...(event.type === 'key.used' ? { suspendKey: event.target } : {}),
        },
      ];
    },
  };
}

/** Tokens issued to one client: `count` within `window`. */
export function issuanceBurst(settings: DetectionSettings['issuanceBurst']): Rule {
  const counter = new WindowCounter(settings.count, settings.window);
  return {
    id: 'issuance_burst',
    observe(event) {
      if ((event.type !== 'token.issued' && event.type !== 'token.exchanged') || event.target === null) return [];
      const hit = counter.add(event.target, timeOf(event), 1, event.id);
      return hit ? [{ rule: 'issuance_burst', title: `excessive issuance to one client (${hit.total} tokens in the window)`, severity: 'medium', target: event.target, evidence: hit.evidence, count: hit.total }] : [];
    },
  };
}

/** Whether `at` falls in the off-hours of `settings` (a window may wrap past midnight). */
export function isOffHours(at: number, settings: DetectionSettings['offHours']): boolean {
  const hour = new Date(at + settings.utcOffsetMinutes * 60_000).getUTCHours();
  return settings.start <= settings.end ? hour >= settings.start && hour < settings.end : hour >= settings.start || hour < settings.end;
}

/** An API key with scope `admin` created: medium, high off-hours. */
export function adminKeyCreated(offHours: DetectionSettings['offHours']): Rule {
  return {
    id: 'admin_key_created',
    observe(event) {
      const scopes = event.data['scopes'];
      const admin = (event.type === 'key.created' && Array.isArray(scopes) && scopes.includes('admin')) || event.type === 'admin.recovered';
      if (!admin) return [];
      const late = isOffHours(timeOf(event), offHours);
      return [{ rule: 'admin_key_created', title: late ? 'admin key created off-hours' : 'admin key created', severity: late ? 'high' : 'medium', target: event.target, evidence: [event.id] }];
    },
  };
}

/** A lifetime policy weakened. */
export function policyWeakened(): Rule {
  return {
    id: 'policy_weakened',
    observe(event) {
      if (event.type !== 'policy.weakened') return [];
      const weakened = Array.isArray(event.data['weakened']) ? (event.data['weakened'] as string[]).join(', ') : '';
      return [{ rule: 'policy_weakened', title: `policy weakened (${weakened})`, severity: 'medium', target: event.target, evidence: [event.id] }];
    },
  };
}

/** An audit sink went down. */
export function sinkDown(): Rule {
  return {
    id: 'sink_down',
    observe(event) {
      if (event.type !== 'audit.sink_down') return [];
      return [{ rule: 'sink_down', title: 'audit sink down: events are held until it recovers', severity: 'high', target: event.target, evidence: [event.id] }];
    },
  };
}

/**
 * A hole in the sequence: the next event read is not the one after the last. Fed the position it
 * starts after ({@link sequenceGap}`(position)`), so events pruned before the engine read them count.
 */
export function sequenceGap(after: number): Rule & { position(): number } {
  let last = after;
  return {
    id: 'sequence_gap',
    position: () => last,
    observe(event) {
      const expected = last + 1;
      // An event at or before the last one is a replay (a retried batch), not a gap.
      if (event.seq < expected) return [];
      last = event.seq;
      if (event.seq === expected || expected === 1) return [];
      return [{ rule: 'sequence_gap', title: `sequence gap: ${event.seq - expected} event(s) missing before seq ${event.seq}`, severity: 'critical', target: null, evidence: [event.id], count: event.seq - expected }];
    },
  };
}

/**
 * The binding failures that mean a bound credential was presented by someone who does not hold
 * what it is bound to — a stolen bound token in use — rather than a client misconfigured:
 * a DPoP proof by another key (`key_mismatch`), a proof replayed (`replay`) or naming another TLS
 * connection (`channel`); a certificate-bound token or key with another certificate
 * (`wrong_certificate`), a session-bound token on another TLS session (`other_tls_session`).
 */
export const BINDING_MISMATCH_REASONS: Readonly<Record<string, readonly string[]>> = {
  'binding.dpop_failed': ['key_mismatch', 'replay', 'channel'],
  'binding.tls_failed': ['wrong_certificate', 'other_tls_session'],
};

/**
 * A bound credential presented with the wrong binding (see {@link BINDING_MISMATCH_REASONS}):
 * `count` such failures within `window` per credential (per source network when the credential
 * is unknown) make one high finding, then quiet for that credential for a window. Summaries of
 * aggregated failures count with their number. The finding names what the response may act on:
 * an API key (suspended), a DPoP-bound refresh family (revoked with its access tokens: the
 * stolen credential, while the client's other families keep working), or a client that
 * authenticated and then failed its binding (disabled: whoever holds its credentials lacks its
 * key or connection).
 */
export function bindingMismatch(settings: { readonly count: number; readonly window: number } = { count: 1, window: 600_000 }): Rule {
  const counter = new WindowCounter(settings.count, settings.window);
  return {
    id: 'binding_mismatch',
    observe(event) {
      const summarized = event.type === 'audit.failures_summarized';
      const of = summarized ? String(event.data['of']) : event.type;
      const reasons = BINDING_MISMATCH_REASONS[of];
      if (reasons === undefined || !reasons.includes(event.reason ?? '')) return [];
      const n = summarized ? Number(event.data['count']) || 0 : 1;
      if (n <= 0) return [];
      const network = summarized ? String(event.data['network'] ?? 'unknown') : sourceNetwork(event.sourceIp);
      const subject = event.target ?? `network:${network}`;
      const hit = counter.add(subject, timeOf(event), n, event.id);
      if (!hit) return [];
      const target = event.target;
      const response =
        target === null
          ? {}
          : isIdOf('key', target)
            ? { suspendKey: target }
            : isIdOf('grt', target)
              ? { revokeGrant: target }
              : isIdOf('ktc', target)
                ? { disableClient: target }
                : {};
      return [
        {
          rule: 'binding_mismatch',
          title: `bound credential presented with the wrong binding (${event.reason}${hit.total > 1 ? `, ${hit.total} in the window` : ''}): a stolen bound token in use`,
          severity: 'high',
          target: event.target ?? (network === 'unknown' ? null : network),
          evidence: hit.evidence,
          count: hit.total,
          ...(network === 'unknown' || network === 'many' ? {} : { networks: [network] }),
          ...response,
        },
      ];
    },
  };
}

/** Every rule with `settings`; `after` is the sequence number the stream starts after. */
export function allRules(settings: DetectionSettings, after: number): Rule[] {
  return [
    refreshTokenReuse(),
    credentialMisuse(settings.failureBurst.window),
    failureBurst(settings.failureBurst),
    newNetwork(),
    multiNetwork(settings.multiNetwork),
    issuanceBurst(settings.issuanceBurst),
    adminKeyCreated(settings.offHours),
    policyWeakened(),
    sinkDown(),
    sequenceGap(after),
    bindingMismatch(settings.bindingMismatch),
  ];
}
