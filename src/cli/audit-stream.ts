import { Command } from 'commander';
import { EVENT_TYPES, type AuditEvent } from '../audit/events.js';
import { formatCef } from '../audit/formats/cef.js';
import { toOcsf } from '../audit/formats/ocsf.js';
import { canonicalOf } from '../audit/sinks/canonical.js';
import { parseDuration } from '../core/duration.js';
import { PRODUCT } from '../audit/sinks/product.js';
import { call, clientOptions as client, commandTarget, usageError, type ClientFlags as Common, type Target } from './client.js';
import type { Io } from './run.js';

type Page = { items: AuditEvent[]; next: number | null };

/** One event as a line of `tail`: seq, time, type, outcome, then what is set. */
function line(e: AuditEvent): string {
  const parts = [String(e.seq).padStart(6), e.time, e.type, e.outcome];
  if (e.target !== null) parts.push(`target=${e.target}`);
  if (e.actor !== null) parts.push(`actor=${e.actor}`);
  if (e.sourceIp !== null) parts.push(`src=${e.sourceIp}`);
  if (e.reason !== null) parts.push(`reason=${JSON.stringify(e.reason)}`);
  if (Object.keys(e.data).length > 0) parts.push(JSON.stringify(e.data));
  return parts.join(' ');
}

function typesOption(value: string, previous: string[] = []): string[] {
  const types = value.split(',').map((t) => t.trim()).filter((t) => t !== '');
  for (const t of types) if (!(EVENT_TYPES as readonly string[]).includes(t)) throw usageError(`--type: unknown event type "${t.slice(0, 64)}" (see docs/events.md)`);
  return [...previous, ...types];
}

function countOption(flag: string, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1 || n > max) throw usageError(`${flag} takes a whole number from 1 to ${max}`);
    return n;
  };
}

/** `--since`: an RFC 3339 time or a duration back from now (`24h`, `7d`). Resolves ms since the epoch. */
function sinceOption(value: string): number {
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const at = Date.parse(value);
    if (Number.isNaN(at)) throw usageError(`--since: "${value.slice(0, 64)}" is not a time (e.g. 2026-12-01T00:00:00Z) or a duration (e.g. 24h)`);
    return at;
  }
  try {
    return Date.now() - parseDuration(value);
  } catch {
    throw usageError(`--since: "${value.slice(0, 64)}" is not a time (e.g. 2026-12-01T00:00:00Z) or a duration (e.g. 24h)`);
  }
}

/** Events after `after`, page by page (one type per request when filtered by several). */
async function* pages(target: Target, after: number, types: readonly string[]): AsyncGenerator<AuditEvent[]> {
  let cursor = after;
  for (;;) {
    const page = await call<Page>(target, 'GET', `/v1/events?after=${cursor}&limit=1000`);
    const items = types.length === 0 ? page.items : page.items.filter((e) => types.includes(e.type));
    if (items.length > 0) yield items;
    if (page.items.length < 1000) return;
    cursor = page.items[page.items.length - 1]!.seq;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `keyturn audit tail` and `keyturn audit export`, added to the `audit` group.
 *
 * @example
 * ```sh
 * keyturn audit tail --follow --type key.revoked,detection.finding
 * keyturn audit export --format ocsf --since 24h > audit.ocsf.jsonl
 * ```
 */
export function addAuditStreamCommands(audit: Command, io: Io): void {
  const target = (cmd: Command) => commandTarget(cmd, io.env);
  client(audit.command('tail').description('print the newest events; with --follow, keep printing new ones as they are recorded'))
    .option('--follow', 'keep following the log (Ctrl-C to stop)')
    .option('--type <types>', 'only these event types (comma-separated, repeatable)', typesOption)
    .option('-n, --lines <n>', 'how many of the newest events to start with (default 20)', countOption('--lines', 10_000))
    .option('--count <n>', 'stop after printing this many events', countOption('--count', 10_000_000))
    .option('--interval <ms>', 'with --follow, how often to ask for new events (default 1000)', countOption('--interval', 60_000))
    .action(async (opts: Common & { follow?: boolean; type?: string[]; lines?: number; count?: number; interval?: number }, cmd: Command) => {
      const [t] = target(cmd);
      const types = opts.type ?? [];
      const wanted = opts.lines ?? 20;
      let printed = 0;
      const print = (e: AuditEvent): boolean => {
        io.out(opts.json ? JSON.stringify(e) : line(e));
        printed++;
        return opts.count !== undefined && printed >= opts.count;
      };
      const { seq: last } = await call<{ seq: number }>(t, 'GET', '/v1/events/last');
      // The newest `wanted`: the tail of the log (with a type filter, among the newest 10 000 events).
      const from = Math.max(0, last - (types.length === 0 ? wanted : Math.max(wanted, 10_000)));
      let recent: AuditEvent[] = [];
      for await (const page of pages(t, from, types)) recent = [...recent, ...page].slice(-wanted);
      let cursor = Math.max(from, recent.at(-1)?.seq ?? from, last);
      for (const e of recent) if (print(e)) return;
      while (opts.follow) {
        await sleep(opts.interval ?? 1_000);
        for await (const page of pages(t, cursor, [])) {
          cursor = page[page.length - 1]!.seq;
          for (const e of page) if ((types.length === 0 || types.includes(e.type)) && print(e)) return;
        }
      }
    });
  client(audit.command('export').description('write events in a SIEM format, one per line: OCSF JSON, CEF, or the canonical record as JSON lines'))
    .requiredOption('--format <format>', 'ocsf, cef or jsonl', (value: string) => {
      if (value !== 'ocsf' && value !== 'cef' && value !== 'jsonl') throw usageError('--format is ocsf, cef or jsonl');
      return value;
    })
    .option('--since <when>', 'only events at or after this time (RFC 3339) or this long ago (24h, 7d)', sinceOption)
    .option('--type <types>', 'only these event types (comma-separated, repeatable)', typesOption)
    .action(async (opts: Common & { format: 'ocsf' | 'cef' | 'jsonl'; since?: number; type?: string[] }, cmd: Command) => {
      const [t] = target(cmd);
      const write =
        opts.format === 'cef'
          ? (e: AuditEvent) => formatCef(canonicalOf(e), PRODUCT)
          : opts.format === 'ocsf'
            ? (e: AuditEvent) => JSON.stringify(toOcsf(canonicalOf(e), PRODUCT))
            : (e: AuditEvent) => JSON.stringify(canonicalOf(e));
      for await (const page of pages(t, 0, opts.type ?? [])) {
        const chunk = page.filter((e) => opts.since === undefined || Date.parse(e.time) >= opts.since).map(write);
        if (chunk.length > 0) io.out(chunk.join('\n'));
      }
    });
}
