import type { Command } from 'commander';
import type { Io } from './run.js';

/** A top-level command group of `keyturn`, built only when it is invoked (or for `--help`). */
export interface CommandGroup {
  /** Builds the group's command; its module is imported here, so an unused group costs nothing. */
  readonly build: (io: Io) => Promise<Command>;
}

/**
 * Every command group, in the order `keyturn --help` lists them. A client command (`keys list`)
 * loads `main.js`, `program.js`, this file, its own group module and the HTTP client — not the
 * configuration schema, the server, the stores or the scanner.
 *
 * To add a group: write `src/cli/<group>.ts` exporting `<group>Command(io): Command` (see
 * `keys.ts`), and add one line here. Subcommands of an existing group go in its module.
 */
export const COMMAND_GROUPS: Readonly<Record<string, CommandGroup>> = {
  serve: { build: async (io) => (await import('./serve.js')).serveCommand(io) },
  principals: { build: async (io) => (await import('./principals.js')).principalsCommand(io) },
  keys: { build: async (io) => (await import('./keys.js')).keysCommand(io) },
  clients: { build: async (io) => (await import('./clients.js')).clientsCommand(io) },
  'signing-keys': { build: async (io) => (await import('./signing-keys.js')).signingKeysCommand(io) },
  scan: { build: async () => (await import('./scan.js')).scanCommand() },
  hooks: { build: async (io) => (await import('./hooks.js')).hooksCommand(io) },
  watch: { build: async (io) => (await import('./watch.js')).watchCommand(io) },
  policies: { build: async (io) => (await import('./policies.js')).policiesCommand(io) },
  admin: { build: async (io) => (await import('./admin.js')).adminCommand(io) },
  audit: { build: async (io) => (await import('./audit.js')).auditCommand(io) },
};
