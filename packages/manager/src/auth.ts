/**
 * Who is calling: `Authorization: Basic` (scrypt-hashed passwords, lock-out after repeated failures)
 * or `Authentication-Token: ctok-<id>-<secret>` (only a hash of the secret is stored).
 */
import { ApiError, unauthorized } from './errors.ts';
import { sameDigest, sha256Hex, verifyPassword } from './passwords.ts';

export interface UserRecord {
  username: string;
  passwordHash: string;
  role: string;
  failedLogins: number;
  lockedUntil: Date | null;
}

export interface TokenRecord {
  id: string;
  username: string;
  secretHash: string;
  expirationDate: Date | null;
}

/** What authentication needs from storage; the manager's is PostgreSQL. */
export interface AuthStore {
  getUser(username: string): Promise<UserRecord | undefined>;
  /** Counts a failed login; locks the account for lockSeconds when it reaches attempts. */
  recordFailure(username: string, attempts: number, lockSeconds: number): Promise<UserRecord | undefined>;
  recordSuccess(username: string): Promise<void>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  touchToken(id: string): Promise<void>;
}

export interface Principal {
  username: string;
  role: string;
  via: 'password' | 'token';
  tokenId?: string;
}

export const TOKEN_PATTERN = /^ctok-([A-Za-z0-9]{10})-([A-Za-z0-9]{40})$/;

export interface AuthOptions {
  lockout: { attempts: number; seconds: number };
  now?: () => number;
}

/**
 * Verifying scrypt on every request would cap the API at a few dozen requests a second: a verified
 * (user, password, stored hash) triple is remembered briefly. Changing the password changes the hash,
 * which invalidates the entry; lock-out is still checked against storage on every request.
 */
const VERIFIED_TTL_MS = 60_000;
const USER_TTL_MS = 1_000;

/** Users kept in memory at most (oldest first out). */
const MAX_CACHED_USERS = 1_000;

export class Authenticator {
  private readonly store: AuthStore;
  private readonly options: AuthOptions;
  private readonly verified = new Map<string, number>();
  private readonly users = new Map<string, { user: UserRecord | undefined; at: number }>();
  private readonly touched = new Map<string, number>();

  constructor(store: AuthStore, options: AuthOptions) {
    this.store = store;
    this.options = options;
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private async user(username: string): Promise<UserRecord | undefined> {
    const cached = this.users.get(username);
    if (cached && this.now() - cached.at < USER_TTL_MS) return cached.user;
    let user: UserRecord | undefined;
    try {
      user = await this.store.getUser(username);
    } catch (error) {
      // With the database away, a user seen before still gets in (status endpoints must answer
      // during an outage); lock-out resumes with the database.
      if (cached?.user && error instanceof ApiError && error.status === 503) return cached.user;
      throw error;
    }
    // Only users that exist are kept, and a bounded number of them: names an attacker makes up
    // never grow the cache.
    if (user) {
      if (this.users.size >= MAX_CACHED_USERS) this.users.delete(this.users.keys().next().value!);
      this.users.set(username, { user, at: this.now() });
    } else this.users.delete(username);
    return user;
  }

  async authenticate(headers: Record<string, string | string[] | undefined>): Promise<Principal> {
    const token = header(headers, 'authentication-token');
    if (token !== undefined) return this.byToken(token);
    const authorization = header(headers, 'authorization');
    if (authorization !== undefined) return this.byPassword(authorization);
    throw unauthorized('No authentication info provided: send Authorization: Basic or Authentication-Token');
  }

  private async byToken(value: string): Promise<Principal> {
    const match = TOKEN_PATTERN.exec(value.trim());
    if (!match) throw unauthorized('Authentication failed: the token is not of the form ctok-<id>-<secret>');
    const [, id, secret] = match as unknown as [string, string, string];
    const token = await this.store.getToken(id);
    if (!token || !sameDigest(sha256Hex(secret), token.secretHash)) {
      throw unauthorized('Authentication failed: invalid token');
    }
    if (token.expirationDate && token.expirationDate.getTime() <= this.now()) {
      throw unauthorized('Authentication failed: the token has expired');
    }
    const user = await this.user(token.username);
    if (!user) throw unauthorized('Authentication failed: invalid token');
    // last_used is informative: one write a minute per token, not one per request.
    const lastTouch = this.touched.get(id) ?? 0;
    if (this.now() - lastTouch > 60_000) {
      this.touched.set(id, this.now());
      await this.store.touchToken(id);
    }
    return { username: user.username, role: user.role, via: 'token', tokenId: id };
  }

  private async byPassword(value: string): Promise<Principal> {
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(value);
    const decoded = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (!match || colon < 1) {
      throw unauthorized('Authentication failed: Authorization must be Basic base64(username:password)');
    }
    const username = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const user = await this.user(username);
    if (!user) throw unauthorized('Authentication failed: wrong username or password');
    if (user.lockedUntil && user.lockedUntil.getTime() > this.now()) {
      const seconds = Math.ceil((user.lockedUntil.getTime() - this.now()) / 1000);
      throw unauthorized(
        `Authentication failed: user ${username} is locked after repeated failed logins; try again in ${seconds} s`,
      );
    }
    const key = sha256Hex(`${username}\0${password}\0${user.passwordHash}`);
    const known = this.verified.get(key);
    if (known === undefined || this.now() - known > VERIFIED_TTL_MS) {
      if (!(await verifyPassword(password, user.passwordHash))) {
        this.users.delete(username);
        const after = await this.store.recordFailure(
          username,
          this.options.lockout.attempts,
          this.options.lockout.seconds,
        );
        if (after?.lockedUntil && after.lockedUntil.getTime() > this.now()) {
          throw unauthorized(
            `Authentication failed: wrong username or password; user ${username} is now locked for ${this.options.lockout.seconds} s`,
          );
        }
        throw unauthorized('Authentication failed: wrong username or password');
      }
      this.verified.set(key, this.now());
      if (this.verified.size > 10_000) this.verified.clear();
    }
    if (user.failedLogins > 0) {
      this.users.delete(username);
      await this.store.recordSuccess(username);
    }
    return { username: user.username, role: user.role, via: 'password' };
  }
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
