import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isKeyturnError } from '../../src/core/errors.js';
import { isLive, isLiveAt, LIFECYCLES, nextState, transition, type Lifecycle } from '../../src/core/lifecycle.js';

/**
 * Every lifecycle's whole table, written out: rows are states, columns actions, a cell the next
 * state or `-` (refused). Adding, removing or changing a transition in src/core/lifecycle.ts
 * without changing this table fails the test.
 */
const EXPECTED: Record<keyof typeof LIFECYCLES, { code: string; live: string[]; terminal: string[]; table: string }> = {
  api_key: {
    code: 'ERR_KEY_STATE',
    live: ['active', 'rotating'],
    terminal: ['revoked'],
    table: `
      state     | rotate   | retire  | suspend   | unsuspend | revoke
      active    | rotating | -       | suspended | active    | revoked
      rotating  | -        | retired | suspended | -         | revoked
      suspended | -        | -       | suspended | active    | revoked
      retired   | -        | -       | -         | -         | revoked
      revoked   | -        | -       | -         | -         | revoked`,
  },
  client_secret: {
    code: 'ERR_CREDENTIAL_STATE',
    live: ['active', 'rotating'],
    terminal: ['revoked'],
    table: `
      state     | rotate   | retire  | suspend   | unsuspend | revoke
      active    | rotating | -       | suspended | active    | revoked
      rotating  | -        | retired | suspended | -         | revoked
      suspended | -        | -       | suspended | active    | revoked
      retired   | -        | -       | -         | -         | revoked
      revoked   | -        | -       | -         | -         | revoked`,
  },
  client: {
    code: 'ERR_CREDENTIAL_STATE',
    live: ['active'],
    terminal: [],
    table: `
      state    | enable | disable
      active   | active | disabled
      disabled | active | disabled`,
  },
  refresh_family: {
    code: 'ERR_CREDENTIAL_STATE',
    live: ['active'],
    terminal: ['revoked'],
    table: `
      state   | revoke
      active  | revoked
      revoked | revoked`,
  },
  refresh_token: {
    code: 'ERR_CREDENTIAL_STATE',
    live: ['active'],
    terminal: ['revoked'],
    table: `
      state   | use  | revoke
      active  | used | revoked
      used    | -    | revoked
      revoked | -    | revoked`,
  },
  principal: {
    code: 'ERR_CREDENTIAL_STATE',
    live: ['active'],
    terminal: ['offboarded'],
    table: `
      state      | enable | disable  | offboard
      active     | active | disabled | offboarded
      disabled   | active | disabled | offboarded
      offboarded | -      | -        | -`,
  },
  signing_key: {
    code: 'ERR_CREDENTIAL_STATE',
    live: ['active'],
    terminal: ['retired'],
    table: `
      state   | activate | retire
      next    | active   | -
      active  | -        | retired
      retired | -        | -`,
  },
};

function parse(table: string): { states: string[]; actions: string[]; cells: Map<string, string | undefined> } {
  const rows = table
    .trim()
    .split('\n')
    .map((line) => line.split('|').map((cell) => cell.trim()));
  const actions = rows[0]!.slice(1);
  const cells = new Map<string, string | undefined>();
  const states: string[] = [];
  for (const [state, ...next] of rows.slice(1)) {
    states.push(state!);
    next.forEach((to, i) => cells.set(`${state} × ${actions[i]}`, to === '-' ? undefined : to));
  }
  return { states, actions, cells };
}

describe('lifecycles', () => {
  it('the test knows every lifecycle', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(Object.keys(LIFECYCLES).sort());
  });

  for (const [name, lifecycle] of Object.entries(LIFECYCLES) as [keyof typeof LIFECYCLES, Lifecycle<string, string>][]) {
    describe(name, () => {
      const expected = EXPECTED[name];
      const { states, actions, cells } = parse(expected.table);

      it('has exactly the expected states, actions, live and terminal states, and error code', () => {
        expect(lifecycle.states).toEqual(states);
        expect(lifecycle.actions).toEqual(actions);
        expect(lifecycle.live).toEqual(expected.live);
        expect(lifecycle.terminal).toEqual(expected.terminal);
        expect(lifecycle.code).toBe(expected.code);
        // The table names nothing outside its states and actions.
        expect(Object.keys(lifecycle.table).sort()).toEqual([...states].sort());
        for (const row of Object.values(lifecycle.table)) {
          for (const [action, to] of Object.entries(row as Record<string, string>)) {
            expect(actions).toContain(action);
            expect(states).toContain(to);
          }
        }
      });

      for (const state of states) {
        for (const action of actions) {
          const to = cells.get(`${state} × ${action}`);
          it(`${state} × ${action} → ${to ?? 'refused'}`, () => {
            expect(nextState(lifecycle, state, action)).toBe(to);
            if (to === undefined) {
              let thrown: unknown;
              try {
                transition(lifecycle, state, action);
              } catch (err) {
                thrown = err;
              }
              expect(isKeyturnError(thrown, expected.code as never)).toBe(true);
              expect((thrown as Error).message).toMatch(new RegExp(`^an? ${state} ${lifecycle.noun} cannot be \\w+$`));
            } else {
              expect(transition(lifecycle, state, action)).toEqual({ from: state, to, changed: to !== state });
            }
          });
        }
      }

      it('terminal states are left by no action', () => {
        for (const state of expected.terminal) {
          for (const action of actions) expect([undefined, state]).toContain(nextState(lifecycle, state, action));
        }
      });

      it('live means the listed states, and an unknown state is never live', () => {
        for (const state of states) expect(isLive(lifecycle, state)).toBe(expected.live.includes(state));
        expect(isLive(lifecycle, 'bogus')).toBe(false);
        expect(() => transition(lifecycle, 'bogus', actions[0]!)).toThrow();
      });
    });
  }

  it('isLiveAt: live and not expired (expiry is time, not a state)', () => {
    const { api_key } = LIFECYCLES;
    expect(isLiveAt(api_key, 'active', null, 1_000)).toBe(true);
    expect(isLiveAt(api_key, 'rotating', 1_001, 1_000)).toBe(true);
    expect(isLiveAt(api_key, 'active', 1_000, 1_000)).toBe(false);
    expect(isLiveAt(api_key, 'suspended', null, 1_000)).toBe(false);
  });

  it('the database CHECK constraints allow exactly the lifecycle states', () => {
    const checked = (file: string, table: string) => {
      const sql = readFileSync(resolve(import.meta.dirname, '../../src', file), 'utf8');
      const block = sql.slice(sql.indexOf(`CREATE TABLE ${table}`));
      const match = /status TEXT NOT NULL[^,]*CHECK \(status IN \(([^)]*)\)\)/.exec(block);
      return match![1]!.split(',').map((s) => s.trim().replace(/'/g, ''));
    };
    expect(checked('keys/migrations.ts', 'api_keys')).toEqual(LIFECYCLES.api_key.states);
    expect(checked('principals/migrations.ts', 'principals')).toEqual(LIFECYCLES.principal.states);
    expect(checked('signing/migrations.ts', 'signing_keys')).toEqual(LIFECYCLES.signing_key.states);
  });
});
