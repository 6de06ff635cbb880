import { Command, CommanderError, Option } from 'commander';
import { isAbsolute, resolve } from 'node:path';
import { parseDuration } from '../core/duration.js';
import type { RunResult, WatchView } from '../leaks/watch.js';
import { call, clientOptions, commandTarget, type ClientFlags } from './client.js';
import { record, table } from './format.js';

/** Where a command writes (the same shape as the program's `Io`). */
export interface WatchIo {
  readonly out: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

type Common = ClientFlags;

function every(value: string): string {
  try {
    parseDuration(value);
  } catch (err) {
    throw new CommanderError(2, 'keyturn.invalidArgument', `--every: ${err instanceof Error ? err.message : String(err)}`);
  }
  return value;
}

/**
 * A local path is sent as an absolute path, resolved against this shell's directory whether or not
 * it exists here (`.`, `x` and `../x` alike): the server, whose directory is another, reads it.
 */
export function sourceArgument(source: string, cwd = process.cwd()): string {
  if (source === '-' || /^[a-z][a-z0-9+.-]*:\/\//i.test(source) || /^[\w.-]+@[\w.-]+:/.test(source) || isAbsolute(source)) return source;
  return resolve(cwd, source);
}

function summary(r: Pick<RunResult, 'ok' | 'findings' | 'new' | 'suspended' | 'revoked' | 'thirdParty' | 'error' | 'skippedDataDirs'>): string {
  if (!r.ok) return `failed: ${r.error?.code ?? 'ERR_INTERNAL'}: ${r.error?.message ?? ''}`;
  const skipped = r.skippedDataDirs?.length ? `; skipped keyturn data directory ${r.skippedDataDirs.join(', ')}` : '';
  return `${r.findings} found, ${r.new} new, ${r.suspended} suspended, ${r.revoked} revoked, ${r.thirdParty} third-party${skipped}`;
}

/**
 * `keyturn watch add|list|run|remove`: leak watch jobs the server runs on a schedule.
 *
 * @example
 * ```sh
 * keyturn watch add /srv/repos/api --history --every 1h
 * keyturn watch run lkw_4Lq…
 * ```
 */
export function watchCommand(io: WatchIo): Command {
  const watch = new Command('watch').description('sources the server scans for leaked secrets on a schedule');
  const print = (opts: Common, json: unknown, text: () => string) => io.out(opts.json ? JSON.stringify(json, null, 2) : text());
  const target = (cmd: Command) => commandTarget(cmd, io.env);

  clientOptions(
    watch
      .command('add')
      .description('watch a source: an absolute path on the server, a git URL, or s3://bucket/prefix')
      .argument('<source>', 'what to scan'),
  )
    .addOption(new Option('--every <duration>', 'interval, e.g. 15m, 1h, 1d').argParser(every).makeOptionMandatory())
    .option('--history', 'scan the whole git history (all refs), incrementally')
    .action(async (source: string, opts: Common & { every: string; history?: boolean }, cmd: Command) => {
      const [t, common] = target(cmd);
      const view = await call<WatchView>(t, 'POST', '/v1/leaks/watches', {
        source: sourceArgument(source),
        every: opts.every,
        ...(opts.history ? { history: true } : {}),
      });
      print(common, view, () => `${view.id}  watching ${view.source} every ${opts.every}${view.history ? ' (history)' : ''}; first run ${view.nextRunAt}`);
    });

  clientOptions(watch.command('list').description('list watch jobs')).action(async (_opts: Common, cmd: Command) => {
    const [t, common] = target(cmd);
    const page = await call<{ items: WatchView[] }>(t, 'GET', '/v1/leaks/watches');
    print(common, page, () =>
      page.items.length
        ? table(
            page.items.map((w) => ({ ...w, every: `${w.everyMs / 1000}s`, last: w.lastResult ? summary(w.lastResult) : '-' })),
            ['id', 'source', 'history', 'every', 'lastRunAt', 'nextRunAt', 'runs', 'last'],
          )
        : 'no watches',
    );
  });

  clientOptions(watch.command('run').description('run a watch job now and print what it found and did').argument('<id>', 'watch id')).action(
    async (id: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd);
      const result = await call<RunResult>(t, 'POST', `/v1/leaks/watches/${encodeURIComponent(id)}/run`, {});
      print(common, result, () =>
        [
          `${result.watchId}: ${summary(result)}`,
          ...result.outcomes.filter((o) => o.new).map((o) => `  ${o.status}  ${o.kind}  ${o.keyId ?? o.findingId}`),
        ].join('\n'),
      );
      if (!result.ok) process.exitCode = 1;
    },
  );

  clientOptions(watch.command('show').description('show one watch job').argument('<id>', 'watch id')).action(async (id: string, _opts: Common, cmd: Command) => {
    const [t, common] = target(cmd);
    const view = await call<WatchView>(t, 'GET', `/v1/leaks/watches/${encodeURIComponent(id)}`);
    print(common, view, () => record({ ...view }));
  });

  clientOptions(watch.command('remove').description('stop watching a source').argument('<id>', 'watch id')).action(
    async (id: string, _opts: Common, cmd: Command) => {
      const [t, common] = target(cmd);
      await call<undefined>(t, 'DELETE', `/v1/leaks/watches/${encodeURIComponent(id)}`);
      print(common, { removed: id }, () => `removed ${id}`);
    },
  );
  return watch;
}
