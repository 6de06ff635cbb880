/**
 * Audit sinks added through the admin API (`/v1/audit/sinks`, `keyturn audit sinks …`), beside
 * the ones of the configuration file: their settings as JSON, any secret (a Splunk HEC token, a
 * webhook's `whsec_` secret) sealed under the master key and never returned, logged or put in an
 * event. Each change is one transaction with its event (`audit.sink_created`, `audit.sink_updated`,
 * `audit.sink_removed`) and its cursor, and is announced on {@link SINKS_CHANNEL} so every node's
 * dispatcher reads the sinks again; delivery is then claimed once per cluster like a configured
 * sink's. The only SQL that names `audit_sinks`.
 */
import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { LookupFunction } from 'node:net';
import { z } from 'zod';
import type { Context } from '../../core/context.js';
import { KeyturnError } from '../../core/errors.js';
import { validate } from '../../core/validate.js';
import { newWebhookSecret } from '../../rotation/index.js';
import type { Queryable, Store, Transaction } from '../../store/port.js';
import { appendEvent, lastEventSeq, type RequestMeta } from '../events.js';
import type { ProductInfo } from '../formats/record.js';
import { deleteCursor, ensureCursor, moveCursor, readCursor } from './cursor.js';
import type { StoredSinks } from './dispatcher.js';
import { buildSink, type Sink, type SinkSpec } from './sink.js';

/** The change-feed channel of stored sinks (payload: the sink's name). */
export const SINKS_CHANNEL = 'audit_sinks';

/** Seals a secret at rest (the master key's AES-256-GCM; `associated` binds it to its row). */
export interface SinkSecretSealer {
  seal(plaintext: string, associated: string): string;
  open(sealed: string, associated: string): string;
}

/** Checks where a sink may connect (the server's egress guard). */
export interface SinkEgress {
  check(url: string, what: string): Promise<void>;
  checkHost(host: string, what: string): Promise<void>;
  readonly lookup?: LookupFunction | undefined;
}

export const STORED_SINK_KINDS = ['syslog', 'file', 'splunk_hec', 'webhook'] as const;
export type StoredSinkKind = (typeof STORED_SINK_KINDS)[number];

const sinkName = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'use [a-z][a-z0-9_-]*, at most 63 characters');
const tlsFiles = z.strictObject({
  ca: z.string().min(1).max(1024).optional(),
  cert: z.string().min(1).max(1024).optional(),
  key: z.string().min(1).max(1024).optional(),
  servername: z.string().min(1).max(255).optional(),
});
const httpUrl = z.url({ protocol: /^https?$/ }).max(2048);
const FACILITY = z.enum(['kern', 'user', 'daemon', 'auth', 'syslog', 'authpriv', 'audit', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7']);

/** The settings of each kind that may change (everything but the name, the kind and the secret). */
const SETTINGS = {
  syslog: {
    host: z.string().min(1).max(255),
    port: z.number().int().min(1).max(65535),
    tls: tlsFiles.optional(),
    format: z.enum(['rfc5424', 'cef']).optional(),
    facility: FACILITY.optional(),
    sdId: z.string().regex(/^[^= \]"]{1,32}$/).optional(),
    hostname: z.string().min(1).max(255).optional(),
  },
  file: {
    /** A file name (no directory): the file is written under the server's audit directory. */
    file: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a file name ([A-Za-z0-9._-], no directory): it is written under <dataDir>/audit'),
    format: z.enum(['jsonl', 'cef', 'ocsf']).optional(),
    maxBytes: z.number().int().min(1024).max(1024 ** 4).optional(),
    maxFiles: z.number().int().min(1).max(1000).optional(),
  },
  splunk_hec: {
    url: httpUrl,
    format: z.enum(['ocsf', 'jsonl']).optional(),
    index: z.string().min(1).max(80).optional(),
    sourcetype: z.string().min(1).max(80).optional(),
    acks: z.boolean().optional(),
    ackTimeoutMs: z.number().int().min(100).max(600_000).optional(),
    tls: tlsFiles.optional(),
  },
  webhook: {
    url: httpUrl,
  },
} as const;

const common = {
  types: z.array(z.string().regex(/^[a-z_]+(\.[a-z_*]+)?$/)).max(200).optional(),
  batchSize: z.number().int().min(1).max(1000).optional(),
};

/** Where a new sink's cursor starts: the first event, the next one, or event number `<seq>`. */
const fromSchema = z.union([z.enum(['start', 'now']), z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)]);
const hecToken = z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

/** `POST /v1/audit/sinks`: a new sink. */
export const createSinkSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('syslog'), name: sinkName, from: fromSchema.optional(), ...common, ...SETTINGS.syslog }),
  z.strictObject({ kind: z.literal('file'), name: sinkName, from: fromSchema.optional(), ...common, ...SETTINGS.file }),
  z.strictObject({ kind: z.literal('splunk_hec'), name: sinkName, from: fromSchema.optional(), ...common, ...SETTINGS.splunk_hec, token: hecToken }),
  z.strictObject({ kind: z.literal('webhook'), name: sinkName, from: fromSchema.optional(), ...common, ...SETTINGS.webhook }),
]);

/** `PATCH /v1/audit/sinks/:name`: fields to change, per kind (a field set to `null` is cleared). */
const updateSchemas: Record<StoredSinkKind, z.ZodType<Record<string, unknown>>> = {
  syslog: z.strictObject({ ...partial({ ...common, ...SETTINGS.syslog }), from: fromSchema.optional() }),
  file: z.strictObject({ ...partial({ ...common, ...SETTINGS.file }), from: fromSchema.optional() }),
  splunk_hec: z.strictObject({ ...partial({ ...common, ...SETTINGS.splunk_hec }), token: hecToken.optional(), from: fromSchema.optional() }),
  webhook: z.strictObject({ ...partial({ ...common, ...SETTINGS.webhook }), rotateSecret: z.literal(true).optional(), from: fromSchema.optional() }),
};

/** Update fields that are not settings: a new secret, a new start. */
const NOT_SETTINGS = new Set(['token', 'rotateSecret', 'from']);

/** Every field optional, and nullable (null: back to the default) unless required by the kind. */
function partial(shape: Record<string, z.ZodType>): Record<string, z.ZodType> {
  return Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.nullable().optional()]));
}

/** A stored sink as shown: its settings, never its secret. */
export interface StoredSinkView {
  readonly name: string;
  readonly kind: StoredSinkKind;
  readonly origin: 'api';
  /** Everything but the secret. */
  readonly settings: Readonly<Record<string, unknown>>;
  /** Whether a secret is kept (sealed): a Splunk token, a webhook secret. */
  readonly hasSecret: boolean;
  /** Counts every update (starts at 1). */
  readonly version: number;
  readonly createdAt: string;
  readonly createdBy: string | null;
  readonly updatedAt: string;
}

interface SinkRow {
  name: string;
  kind: StoredSinkKind;
  settings: string;
  secret: string | null;
  version: number | string;
  created_at: number | string;
  created_by: string | null;
  updated_at: number | string;
}

const iso = (ms: number | string) => new Date(Number(ms)).toISOString();

function toView(row: SinkRow): StoredSinkView {
  return {
    name: row.name,
    kind: row.kind,
    origin: 'api',
    settings: JSON.parse(row.settings) as Record<string, unknown>,
    hasSecret: row.secret !== null,
    version: Number(row.version),
    createdAt: iso(row.created_at),
    createdBy: row.created_by,
    updatedAt: iso(row.updated_at),
  };
}

/** Where a sink sends, for events: a URL's origin (its path or query may carry a token), a host and port, a file name. */
function destinationOf(kind: StoredSinkKind, settings: Record<string, unknown>): string {
  if (kind === 'syslog') return `${String(settings['host'])}:${String(settings['port'])}`;
  if (kind === 'file') return String(settings['file']);
  try {
    return new URL(String(settings['url'])).origin;
  } catch {
    return 'invalid-url';
  }
}

export interface SinkRegistryOptions {
  readonly store: Store;
  readonly ctx: Context;
  readonly sealer: SinkSecretSealer;
  readonly product: ProductInfo;
  /** The directory `file` sinks write under (`<dataDir>/audit`). */
  readonly fileDir: string;
  /** Names the configuration file's sinks take (a stored sink may not). */
  readonly reserved: () => ReadonlySet<string>;
  /** Refuses loopback, private and metadata destinations unless allowed (`egressAllow`); none: unchecked. */
  readonly egress?: SinkEgress | undefined;
}

/**
 * The audit sinks of the admin API.
 *
 * @example
 * ```ts
 * const { sink, secret } = await registry.add({ kind: 'webhook', name: 'soc', url: 'https://soc.example.com/keyturn', from: 'now' }, meta);
 * // secret: whsec_… shown once; every batch carries webhook-id, webhook-timestamp, webhook-signature
 * ```
 */
export class SinkRegistry {
  readonly #store: Store;
  readonly #ctx: Context;
  readonly #sealer: SinkSecretSealer;
  readonly #product: ProductInfo;
  readonly #fileDir: string;
  readonly #reserved: () => ReadonlySet<string>;
  readonly #egress: SinkEgress | undefined;

  constructor(options: SinkRegistryOptions) {
    this.#store = options.store;
    this.#ctx = options.ctx;
    this.#sealer = options.sealer;
    this.#product = options.product;
    this.#fileDir = options.fileDir;
    this.#reserved = options.reserved;
    this.#egress = options.egress;
  }

  /**
   * Adds a sink and its cursor, at `from` (`start`: the first event, default; `now`: the events
   * after this one; a number: that event onwards). The answer carries the webhook secret, once;
   * a Splunk token given is sealed and never shown again. Bad input changes nothing.
   */
  async add(input: unknown, meta: RequestMeta): Promise<{ sink: StoredSinkView; secret?: string }> {
    const data = validate(createSinkSchema, input);
    if (this.#reserved().has(data.name)) throw new KeyturnError('ERR_CONFLICT', `the configuration file has an audit sink named ${data.name}`);
    const { kind, name, from = 'start', ...rest } = data;
    let secret: string | null = null;
    let shown: string | undefined;
    let settings: Record<string, unknown> = rest;
    if (kind === 'splunk_hec') {
      const { token, ...others } = rest as typeof rest & { token: string };
      secret = token;
      settings = others;
    } else if (kind === 'webhook') {
      secret = newWebhookSecret(this.#ctx);
      shown = secret;
    }
    await this.#check(kind, name, settings, secret);
    const now = this.#ctx.now().getTime();
    const view = await this.#store.transaction(async (tx) => {
      if (await this.#row(tx, name)) throw new KeyturnError('ERR_CONFLICT', `an audit sink named ${name} exists`);
      const last = await lastEventSeq(tx);
      const position = from === 'start' ? 0 : from === 'now' ? last : Math.min(from - 1, last);
      const row: SinkRow = {
        name,
        kind,
        settings: JSON.stringify(settings),
        secret: secret === null ? null : this.#sealer.seal(secret, `audit-sink:${name}`),
        version: 1,
        created_at: now,
        created_by: meta.actor,
        updated_at: now,
      };
      // Why: the sink and its settings must outlive this process and reach every node.
      await tx.run('INSERT INTO audit_sinks (name, kind, settings, secret, version, created_at, created_by, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?)', [
        row.name,
        row.kind,
        row.settings,
        row.secret,
        now,
        row.created_by,
        now,
      ]);
      await startCursor(tx, name, kind, position, now);
      await appendEvent(tx, this.#ctx, { type: 'audit.sink_created', target: name, outcome: 'success', data: { kind, destination: destinationOf(kind, settings), position, secret: secret !== null } }, meta);
      tx.notify(SINKS_CHANNEL, name);
      return toView(row);
    });
    return shown === undefined ? { sink: view } : { sink: view, secret: shown };
  }

  /** Every stored sink, by name. */
  async list(): Promise<StoredSinkView[]> {
    return (await this.#store.all<SinkRow>('SELECT * FROM audit_sinks ORDER BY name')).map(toView);
  }

  /** One stored sink; `ERR_NOT_FOUND` when there is none by that name. */
  async get(name: string): Promise<StoredSinkView> {
    const row = await this.#row(this.#store, name);
    if (!row) throw new KeyturnError('ERR_NOT_FOUND', `no audit sink ${name.slice(0, 63)} was added through the API`);
    return toView(row);
  }

  /**
   * Changes a sink's settings (its name and kind stay; `null` clears an optional field). A Splunk
   * `token` replaces the sealed one; `rotateSecret: true` gives a webhook sink a new secret, shown
   * once in the answer (the old one stops signing at once). Its cursor stays where it is unless
   * `from` moves it — `start` (the whole log again), `now` (after the newest event) or the sequence
   * number to deliver next, at most one past the newest (`ERR_VALIDATION` beyond it: nothing
   * changes) — in the same transaction, durably and once for the cluster; every node's dispatcher
   * reads the cursor from the store, and the version change reaches them through the change feed.
   */
  async update(name: string, input: unknown, meta: RequestMeta): Promise<{ sink: StoredSinkView; secret?: string }> {
    const current = await this.get(name);
    const changes = validate(updateSchemas[current.kind], input);
    const fields = Object.keys(changes).filter((k) => !NOT_SETTINGS.has(k));
    const from = changes['from'] as 'start' | 'now' | number | undefined;
    if (Object.keys(changes).length === 0) throw new KeyturnError('ERR_VALIDATION', 'body: nothing to change');
    const merged: Record<string, unknown> = { ...current.settings };
    for (const key of fields) {
      if (changes[key] === null) delete merged[key];
      else merged[key] = changes[key];
    }
    // The merged settings must make a whole sink of the kind (a required field cannot be cleared).
    const checkInput: Record<string, unknown> = { kind: current.kind, name, ...merged };
    if (current.kind === 'splunk_hec') checkInput['token'] = 'x';
    validate(createSinkSchema, checkInput);
    let newSecret: string | undefined;
    if (current.kind === 'splunk_hec' && typeof changes['token'] === 'string') newSecret = changes['token'];
    if (current.kind === 'webhook' && changes['rotateSecret'] === true) newSecret = newWebhookSecret(this.#ctx);
    const row0 = (await this.#row(this.#store, name))!;
    const secretForCheck = newSecret ?? (row0.secret === null ? null : this.#sealer.open(row0.secret, `audit-sink:${name}`));
    await this.#check(current.kind, name, merged, secretForCheck);
    const now = this.#ctx.now().getTime();
    const view = await this.#store.transaction(async (tx) => {
      const row = await this.#row(tx, name);
      if (!row || Number(row.version) !== current.version) throw new KeyturnError('ERR_CONFLICT', `audit sink ${name} changed concurrently; try again`);
      let moved: { from: number; to: number } | undefined;
      if (from !== undefined) {
        const last = await lastEventSeq(tx);
        if (typeof from === 'number' && from > last + 1) {
          throw new KeyturnError('ERR_VALIDATION', `from: ${from} is beyond the log's head (the newest event is ${last}): give at most ${last + 1}, start or now`, {
            details: { from, head: last },
          });
        }
        const to = from === 'start' ? 0 : from === 'now' ? last : from - 1;
        const cursor = await readCursor(tx, name);
        moved = { from: cursor?.position ?? 0, to };
        if (cursor === undefined) await startCursor(tx, name, current.kind, to, now);
        else await moveCursor(tx, name, to, now);
      }
      const sealed = newSecret === undefined ? row.secret : this.#sealer.seal(newSecret, `audit-sink:${name}`);
      const version = current.version + 1;
      const settings = JSON.stringify(merged);
      const changed = await tx.run('UPDATE audit_sinks SET settings = ?, secret = ?, version = ?, updated_at = ? WHERE name = ? AND version = ?', [settings, sealed, version, now, name, current.version]);
      if (changed.changes !== 1) throw new KeyturnError('ERR_CONFLICT', `audit sink ${name} changed concurrently; try again`);
      await appendEvent(
        tx,
        this.#ctx,
        { type: 'audit.sink_updated', target: name, outcome: 'success', data: {
            kind: current.kind,
            version,
            fields,
            secretReplaced: newSecret !== undefined,
            destination: destinationOf(current.kind, merged),
            ...(moved === undefined ? {} : { position: moved }),
          },
        },
        meta,
      );
      tx.notify(SINKS_CHANNEL, name);
      return toView({ ...row, settings, secret: sealed, version, updated_at: now });
    });
    return current.kind === 'webhook' && newSecret !== undefined ? { sink: view, secret: newSecret } : { sink: view };
  }

  /** Removes a sink and its cursor: nothing more is sent to it. A configured sink cannot be removed here. */
  async remove(name: string, meta: RequestMeta): Promise<StoredSinkView> {
    if (this.#reserved().has(name)) throw new KeyturnError('ERR_CONFLICT', `audit sink ${name} comes from the configuration file: remove it there`);
    return this.#store.transaction(async (tx) => {
      const row = await this.#row(tx, name);
      if (!row) throw new KeyturnError('ERR_NOT_FOUND', `no audit sink ${name.slice(0, 63)} was added through the API`);
      const cursor = await readCursor(tx, name);
      await tx.run('DELETE FROM audit_sinks WHERE name = ?', [name]);
      await deleteCursor(tx, name);
      await appendEvent(
        tx,
        this.#ctx,
        { type: 'audit.sink_removed', target: name, outcome: 'success', data: { kind: row.kind, position: cursor?.position ?? 0, delivered: cursor?.delivered ?? 0 } },
        meta,
      );
      tx.notify(SINKS_CHANNEL, name);
      return toView(row);
    });
  }

  /**
   * The stored sinks for the dispatcher, built: secrets opened, TLS files read. A sink that
   * cannot be built now (a TLS file gone) gets a transport that fails with the reason, so it
   * shows as down, with its error, instead of vanishing.
   */
  readonly stored: StoredSinks = {
    channel: SINKS_CHANNEL,
    load: async () => {
      const rows = await this.#store.all<SinkRow>('SELECT * FROM audit_sinks ORDER BY name');
      return rows.map((row) => {
        const secret = row.secret === null ? null : this.#sealer.open(row.secret, `audit-sink:${row.name}`);
        const spec = this.#spec(row.kind, row.name, JSON.parse(row.settings) as Record<string, unknown>, secret);
        let sink: Sink;
        try {
          sink = buildSink(spec, this.#product, { now: () => this.#ctx.now(), lookup: this.#egress?.lookup });
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          sink = {
            name: row.name,
            kind: row.kind,
            batchSize: 1,
            from: 'start',
            accepts: () => true,
            format: () => '',
            transport: { send: () => Promise.reject(new KeyturnError('ERR_CONFIG', message)), close: async () => undefined },
          };
        }
        return { sink, version: Number(row.version) };
      });
    },
  };

  /** The full spec of a stored sink, as {@link buildSink} takes it. */
  #spec(kind: StoredSinkKind, name: string, settings: Record<string, unknown>, secret: string | null): SinkSpec {
    const base = { name, from: 'start' as const };
    switch (kind) {
      case 'file': {
        const { file, ...rest } = settings as { file: string };
        return { ...base, ...rest, kind, path: join(this.#fileDir, basename(file)) } as SinkSpec;
      }
      case 'splunk_hec':
        return { ...base, ...settings, kind, token: secret ?? '' } as SinkSpec;
      case 'webhook':
        return { ...base, ...settings, kind, secret: secret ?? '' } as SinkSpec;
      case 'syslog':
        return { ...base, ...settings, kind } as SinkSpec;
    }
  }

  /** Refuses a destination keyturn must not reach, and settings a sink cannot be built from (an unreadable TLS file). */
  async #check(kind: StoredSinkKind, name: string, settings: Record<string, unknown>, secret: string | null): Promise<void> {
    if (kind === 'syslog') await this.#egress?.checkHost(String(settings['host']), 'host');
    if (kind === 'splunk_hec' || kind === 'webhook') await this.#egress?.check(String(settings['url']), 'url');
    if (kind === 'file') await mkdir(this.#fileDir, { recursive: true, mode: 0o700 });
    try {
      const sink = buildSink(this.#spec(kind, name, settings, secret), this.#product);
      await sink.transport.close();
    } catch (err) {
      if (err instanceof KeyturnError && err.code === 'ERR_CONFIG') throw new KeyturnError('ERR_VALIDATION', err.message.replace(/^sink [^:]+: /, 'tls: '));
      throw err;
    }
  }

  async #row(db: Queryable, name: string): Promise<SinkRow | undefined> {
    if (!/^[a-z][a-z0-9_-]{0,62}$/.test(name)) return undefined;
    return db.get<SinkRow>('SELECT * FROM audit_sinks WHERE name = ?', [name]);
  }
}

/**
 * Checks the webhook sinks of the configuration file against the egress guard, as stored sinks are
 * checked when added: a destination keyturn must not reach (loopback, private, link-local or
 * reserved, unless `egressAllow` allows its network) is `ERR_CONFIG` naming the sink, so the server
 * does not start with it. Each connection is checked again by building the sink with the guard's
 * `lookup` ({@link configuredSinkOptions}).
 */
export async function checkConfiguredWebhooks(specs: readonly SinkSpec[], egress: Pick<SinkEgress, 'check'>): Promise<void> {
  for (const spec of specs) {
    if (spec.kind !== 'webhook') continue;
    try {
      await egress.check(spec.url, 'url');
    } catch (err) {
      if (!(err instanceof KeyturnError)) throw err;
      throw new KeyturnError('ERR_CONFIG', `audit.sinks: webhook sink ${spec.name}: ${err.message}`);
    }
  }
}

/** How a configured sink is built: a webhook sink resolves through the egress guard at each connection. */
export function configuredSinkOptions(spec: SinkSpec, egress: Pick<SinkEgress, 'lookup'>): { lookup?: SinkEgress['lookup'] } {
  return spec.kind === 'webhook' ? { lookup: egress.lookup } : {};
}

/** Makes (or resets: a leftover cursor of a sink once named so) the cursor of a new sink at `position`. */
async function startCursor(tx: Transaction, name: string, kind: string, position: number, now: number): Promise<void> {
  await deleteCursor(tx, name);
  await ensureCursor(tx, name, kind, position, now);
}
