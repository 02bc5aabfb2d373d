/** Users and tokens in PostgreSQL: the AuthStore the authenticator reads, and the admin's creation. */

import type { Logger } from '../log.ts';
import type { Database } from '../storage/db.ts';
import { type AuthStore, type TokenRecord, throttleDelay, type UserRecord } from './auth.ts';
import { hashPassword, verifyPassword } from './passwords.ts';

interface UserRow {
  username: string;
  password_hash: string;
  role: string;
}

const toUser = (row: UserRow): UserRecord => ({
  username: row.username,
  passwordHash: row.password_hash,
  role: row.role,
});

let failuresRecorded = 0;

export function pgAuthStore(db: Database): AuthStore {
  return {
    async getUser(username) {
      const { rows } = await db.read<UserRow>('SELECT * FROM users WHERE username = $1', [username]);
      return rows[0] && toUser(rows[0]);
    },
    async loginState(username, source) {
      const { rows } = await db.read<{ failures: number; wait: number }>(
        `SELECT failures, extract(epoch FROM next_allowed_at - now())::float AS wait
           FROM login_throttle WHERE username = $1 AND source = $2`,
        [username, source],
      );
      return { failures: rows[0]?.failures ?? 0, waitSeconds: Math.max(0, Math.ceil(rows[0]?.wait ?? 0)) };
    },
    async recordFailure(username, source, rule) {
      // Counted in one statement, so that failures on any manager at once are each counted; the wait
      // then follows from the count this failure made.
      const { rows } = await db.query<{ failures: number }>(
        `INSERT INTO login_throttle AS t (username, source, failures) VALUES ($1, $2, 1)
         ON CONFLICT (username, source) DO UPDATE SET failures = t.failures + 1
         RETURNING failures`,
        [username, source],
      );
      await db.query(
        `UPDATE login_throttle SET next_allowed_at = now() + make_interval(secs => $3)
         WHERE username = $1 AND source = $2`,
        [username, source, throttleDelay(rows[0]?.failures ?? 1, rule)],
      );
      // Streaks nobody continued for a day are forgotten, now and then (a bounded table).
      if (++failuresRecorded % 100 === 0) {
        await db.query("DELETE FROM login_throttle WHERE next_allowed_at < now() - interval '1 day'");
      }
    },
    async clearLogins(username, source) {
      await db.query('DELETE FROM login_throttle WHERE username = $1 AND source = $2', [username, source]);
    },
    async noteLogin(username) {
      await db.query('UPDATE users SET last_login_at = now() WHERE username = $1', [username]);
    },
    async getToken(id) {
      const { rows } = await db.read<{
        id: string;
        username: string;
        secret_hash: string;
        expiration_date: Date | null;
      }>('SELECT id, username, secret_hash, expiration_date FROM tokens WHERE id = $1', [id]);
      const row = rows[0];
      return (
        row &&
        ({
          id: row.id,
          username: row.username,
          secretHash: row.secret_hash,
          expirationDate: row.expiration_date,
        } satisfies TokenRecord)
      );
    },
    async touchToken(id) {
      await db.query('UPDATE tokens SET last_used = now() WHERE id = $1', [id]);
    },
  };
}

/**
 * Creates the admin at first start. On later starts the password file wins: when it no longer
 * matches the stored hash, the stored password is replaced (rotation is "change the file, restart").
 */
export async function ensureAdmin(
  db: Database,
  username: string,
  password: string | undefined,
  log: Logger,
): Promise<void> {
  const { rows } = await db.query<{ password_hash: string }>(
    'SELECT password_hash FROM users WHERE username = $1',
    [username],
  );
  if (rows[0]) {
    if (password && !(await verifyPassword(password, rows[0].password_hash))) {
      // A rotated password revokes the user's tokens too: whoever held the old one may have made some.
      const hash = await hashPassword(password);
      const revoked = await db.transaction(async (client) => {
        await client.query('UPDATE users SET password_hash = $2 WHERE username = $1', [username, hash]);
        return (await client.query('DELETE FROM tokens WHERE username = $1', [username])).rowCount ?? 0;
      });
      log.info(
        `user '${username}': password replaced by the one in COSMO_ADMIN_PASSWORD_FILE; its ${revoked} token(s) revoked`,
      );
    }
    return;
  }
  if (!password) {
    throw new Error(`no user '${username}' exists yet: give its password with COSMO_ADMIN_PASSWORD_FILE`);
  }
  await db.query(
    "INSERT INTO users (username, password_hash, role) VALUES ($1, $2, 'sys_admin') ON CONFLICT (username) DO NOTHING",
    [username, await hashPassword(password)],
  );
  log.info(`created user '${username}' (sys_admin)`);
}
