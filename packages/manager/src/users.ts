/** Users and tokens in PostgreSQL: the AuthStore the authenticator reads, and the admin's creation. */
import type { AuthStore, TokenRecord, UserRecord } from './auth.ts';
import type { Database } from './db.ts';
import type { Logger } from './log.ts';
import { hashPassword } from './passwords.ts';

interface UserRow {
  username: string;
  password_hash: string;
  role: string;
  failed_logins: number;
  locked_until: Date | null;
}

const toUser = (row: UserRow): UserRecord => ({
  username: row.username,
  passwordHash: row.password_hash,
  role: row.role,
  failedLogins: row.failed_logins,
  lockedUntil: row.locked_until,
});

export function pgAuthStore(db: Database): AuthStore {
  return {
    async getUser(username) {
      const { rows } = await db.query<UserRow>('SELECT * FROM users WHERE username = $1', [username]);
      return rows[0] && toUser(rows[0]);
    },
    async recordFailure(username, attempts, lockSeconds) {
      // One statement, so concurrent failures on several managers count exactly.
      const { rows } = await db.query<UserRow>(
        `UPDATE users SET
           failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
           locked_until = CASE WHEN failed_logins + 1 >= $2 THEN now() + make_interval(secs => $3) ELSE locked_until END
         WHERE username = $1 RETURNING *`,
        [username, attempts, lockSeconds],
      );
      return rows[0] && toUser(rows[0]);
    },
    async recordSuccess(username) {
      await db.query('UPDATE users SET failed_logins = 0, last_login_at = now() WHERE username = $1', [
        username,
      ]);
    },
    async getToken(id) {
      const { rows } = await db.query<{
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

/** Creates the admin at first start; later starts leave the stored password alone. */
export async function ensureAdmin(
  db: Database,
  username: string,
  password: string | undefined,
  log: Logger,
): Promise<void> {
  const { rows } = await db.query('SELECT 1 FROM users WHERE username = $1', [username]);
  if (rows.length > 0) return;
  if (!password) {
    throw new Error(`no user '${username}' exists yet: give its password with COSMO_ADMIN_PASSWORD_FILE`);
  }
  await db.query(
    "INSERT INTO users (username, password_hash, role) VALUES ($1, $2, 'sys_admin') ON CONFLICT (username) DO NOTHING",
    [username, await hashPassword(password)],
  );
  log.info(`created user '${username}' (sys_admin)`);
}
