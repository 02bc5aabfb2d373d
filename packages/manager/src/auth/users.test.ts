import { describe, expect, it } from 'vitest';
import type { Logger } from '../log.ts';
import type { Database } from '../storage/db.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { ensureAdmin } from './users.ts';

/** The users and tokens tables as ensureAdmin uses them: password hashes, and token ids per user. */
function usersTable(rows: Map<string, string>, tokens = new Map<string, string[]>()): Database {
  const db = {
    async query(text: string, values: unknown[] = []) {
      const [username, hash] = values as [string, string];
      if (text.startsWith('SELECT')) {
        const found = rows.get(username);
        return { rows: found ? [{ password_hash: found }] : [] };
      }
      if (text.startsWith('DELETE FROM tokens')) {
        const count = tokens.get(username)?.length ?? 0;
        tokens.delete(username);
        return { rows: [], rowCount: count };
      }
      rows.set(username, hash);
      return { rows: [] };
    },
    transaction: <T>(fn: (client: unknown) => Promise<T>) => fn(db),
  };
  return db as unknown as Database;
}

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} } as unknown as Logger;

describe('the admin user', () => {
  it('is created from the password file at first start', async () => {
    const rows = new Map<string, string>();
    await ensureAdmin(usersTable(rows), 'admin', 'first', quiet);
    expect(await verifyPassword('first', rows.get('admin')!)).toBe(true);
  });

  it('takes a new password from the file at the next start (rotation), and keeps one that matches', async () => {
    const rows = new Map([['admin', await hashPassword('old')]]);
    await ensureAdmin(usersTable(rows), 'admin', 'new', quiet);
    expect(await verifyPassword('new', rows.get('admin')!)).toBe(true);
    expect(await verifyPassword('old', rows.get('admin')!)).toBe(false);
    const kept = rows.get('admin');
    await ensureAdmin(usersTable(rows), 'admin', 'new', quiet);
    expect(rows.get('admin')).toBe(kept);
  });

  it("revokes the user's tokens when the password changes, and only then", async () => {
    const rows = new Map([['admin', await hashPassword('old')]]);
    const tokens = new Map([['admin', ['t1', 't2']]]);
    await ensureAdmin(usersTable(rows, tokens), 'admin', 'old', quiet);
    expect(tokens.get('admin')).toEqual(['t1', 't2']);
    await ensureAdmin(usersTable(rows, tokens), 'admin', 'new', quiet);
    expect(tokens.has('admin')).toBe(false);
  });
});
