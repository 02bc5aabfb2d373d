/**
 * Who is calling: `Authorization: Basic` (scrypt-hashed passwords) or `Authentication-Token:
 * ctok-<id>-<secret>` (only a hash of the secret is stored).
 *
 * Failed logins cost the one who fails them: counted per user *and source address*, in storage for
 * users that exist (so every manager counts together) and in memory, per source, for names that do
 * not (made-up names never grow a table). After `attempts` failures in a row from one address, that
 * address waits 1 s, then 2, 4, ... up to `seconds` between tries for that user; no more checks run
 * at once for a user and address than failures it has left, so 40 parallel guesses are not 40
 * checks. The right password from any other address is never refused: nobody can lock the admin out
 * by failing on purpose. Unknown users cost a password check too, so they answer in the same time.
 *
 * A successful login reads and never waits on a write (reads keep working while the database fails
 * over): only failures are written, and the end of a streak of them. Password checks (scrypt, ~50 ms
 * of CPU each) run a few at a time; beyond a short queue the answer is 503 at once.
 */
import { ApiError, unauthorized, unavailable } from '../api/errors.ts';
import { hashPassword, sameDigest, sha256Hex, verifyPassword } from './passwords.ts';

export interface UserRecord {
  username: string;
  passwordHash: string;
  role: string;
}

export interface ThrottleRule {
  /** Failures in a row before the waits start. */
  attempts: number;
  /** The longest wait, in seconds. */
  seconds: number;
}

/** The wait after the nth failure in a row: none before `attempts`, then 1, 2, 4 ... `seconds`. */
export function throttleDelay(failures: number, rule: ThrottleRule): number {
  if (failures < rule.attempts) return 0;
  return Math.min(2 ** Math.min(failures - rule.attempts, 30), rule.seconds);
}

export const tooManyLogins = (username: string, seconds: number) =>
  new ApiError(
    429,
    'too_many_login_attempts_error',
    `Authentication failed: too many failed logins for ${username} from this address; try again in ${seconds} s`,
  );

export interface TokenRecord {
  id: string;
  username: string;
  secretHash: string;
  expirationDate: Date | null;
}

/** What authentication needs from storage; the manager's is PostgreSQL. */
export interface AuthStore {
  getUser(username: string): Promise<UserRecord | undefined>;
  /** This user's failures in a row from this source, and how long it must still wait (a read). */
  loginState(username: string, source: string): Promise<{ failures: number; waitSeconds: number }>;
  /** Counts a failed attempt and sets the wait the next one needs (atomically, on any manager). */
  recordFailure(username: string, source: string, rule: ThrottleRule): Promise<void>;
  /** A right password after failures: the user and source start over. */
  clearLogins(username: string, source: string): Promise<void>;
  /** When the user last logged in: informative, written now and then, never waited for. */
  noteLogin(username: string): Promise<void>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  touchToken(id: string): Promise<void>;
}

export interface Principal {
  username: string;
  role: string;
  via: 'password' | 'token';
  tokenId?: string;
  /** For a token: when it expires (a token cannot make tokens that outlive it). */
  tokenExpires?: Date | null;
}

export const TOKEN_PATTERN = /^ctok-([A-Za-z0-9]{10})-([A-Za-z0-9]{40})$/;

export interface AuthOptions {
  lockout: ThrottleRule;
  now?: () => number;
}

/**
 * Verifying scrypt on every request would cap the API at a few dozen requests a second: a verified
 * (user, password, stored hash) triple is remembered briefly. Changing the password changes the hash,
 * which invalidates the entry; lock-out is still checked against storage on every request.
 */
const VERIFIED_TTL_MS = 60_000;
const USER_TTL_MS = 1_000;
/** How long a token read from the database is trusted before it is read again. */
const TOKEN_TTL_MS = 1_000;

/** Users kept in memory at most (oldest first out). */
const MAX_CACHED_USERS = 1_000;
/** Sources whose failures with unknown names are counted in memory at most (oldest first out). */
const MAX_STRANGER_SOURCES = 10_000;
/** Longest user name looked up; a longer one, or one with control characters, is refused unread. */
export const MAX_USERNAME = 128;
/** Password checks running at once (scrypt is CPU), and waiting for a turn before a 503. */
const CHECKS_AT_ONCE = 4;
const CHECKS_WAITING = 64;
/** How often a user's last login is written, at most, per manager. */
const NOTE_LOGIN_MS = 10 * 60_000;

/** Runs at most `limit` tasks at once, queues up to `waiting` more, refuses the rest at once. */
class Gate {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  private readonly limit: number;
  private readonly waiting: number;
  constructor(limit: number, waiting: number) {
    this.limit = limit;
    this.waiting = waiting;
  }
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      if (this.queue.length >= this.waiting) {
        throw unavailable('too many logins are being checked at once; try again in a moment');
      }
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else this.active++;
    try {
      return await task();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }
}

export class Authenticator {
  private readonly store: AuthStore;
  private readonly options: AuthOptions;
  private readonly verified = new Map<string, number>();
  private readonly users = new Map<string, { user: UserRecord | undefined; at: number }>();
  private readonly touched = new Map<string, number>();
  /** Checks running now per user and source (`user\0source`). */
  private readonly attempting = new Map<string, number>();
  /** Failures with names that exist nowhere, per source: in memory, bounded. */
  private readonly strangers = new Map<string, { failures: number; next: number }>();
  private readonly loggedIn = new Map<string, number>();
  private readonly gate = new Gate(CHECKS_AT_ONCE, CHECKS_WAITING);

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

  /**
   * Tokens are read from the database at most once a second each: a request burst with one token
   * costs one query, and a revoked token stops working within a second. Expiry is checked on every
   * request against the clock, cached or not. Only tokens that exist are kept, at most 1,000.
   */
  private readonly tokens = new Map<string, { token: TokenRecord; at: number }>();

  private async token(id: string): Promise<TokenRecord | undefined> {
    const cached = this.tokens.get(id);
    if (cached && this.now() - cached.at < TOKEN_TTL_MS) return cached.token;
    const token = await this.store.getToken(id);
    if (token) {
      if (this.tokens.size >= MAX_CACHED_USERS) this.tokens.delete(this.tokens.keys().next().value!);
      this.tokens.set(id, { token, at: this.now() });
    } else this.tokens.delete(id);
    return token;
  }

  /** A token deleted through this manager stops working here at once. */
  forgetToken(id: string): void {
    this.tokens.delete(id);
  }

  /** A hash no password matches, checked for unknown users so that they cost what a known one does. */
  private dummyHash: Promise<string> | undefined;

  /** `source`: the caller's address, by which failed logins are counted. */
  async authenticate(
    headers: Record<string, string | string[] | undefined>,
    source = 'unknown',
  ): Promise<Principal> {
    const token = header(headers, 'authentication-token');
    if (token !== undefined) return this.byToken(token);
    const authorization = header(headers, 'authorization');
    if (authorization !== undefined) return this.byPassword(authorization, source);
    throw unauthorized('No authentication info provided: send Authorization: Basic or Authentication-Token');
  }

  private async byToken(value: string): Promise<Principal> {
    const match = TOKEN_PATTERN.exec(value.trim());
    if (!match) throw unauthorized('Authentication failed: the token is not of the form ctok-<id>-<secret>');
    const [, id, secret] = match as unknown as [string, string, string];
    const token = await this.token(id);
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
      // Never waited for: a read with a token must not need the database to take a write.
      void this.store.touchToken(id).catch(() => {});
    }
    return {
      username: user.username,
      role: user.role,
      via: 'token',
      tokenId: id,
      tokenExpires: token.expirationDate,
    };
  }

  /**
   * Checks under way, by (user, password, address): requests that arrive together with the same
   * credentials (a client's parallel calls to a manager that just started) share one check and
   * count as one attempt, so a burst of right passwords cannot trip the waits.
   */
  private readonly checking = new Map<string, Promise<Principal>>();

  private async byPassword(value: string, source: string): Promise<Principal> {
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(value);
    const decoded = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (!match || colon < 1) {
      throw unauthorized('Authentication failed: Authorization must be Basic base64(username:password)');
    }
    const username = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    // No user has such a name: refused before any lookup, count or check costs the server anything.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
    if (username.length > MAX_USERNAME || /[\u0000-\u001f\u007f]/.test(username)) {
      throw unauthorized(
        `Authentication failed: a user name has at most ${MAX_USERNAME} characters and no control characters`,
      );
    }
    const user = await this.user(username);
    // A (user, password, stored hash) verified moments ago needs neither a check nor a count.
    const key = user && sha256Hex(`${username}\0${password}\0${user.passwordHash}`);
    const known = key === undefined ? undefined : this.verified.get(key);
    if (key !== undefined && known !== undefined && this.now() - known <= VERIFIED_TTL_MS) {
      return { username: user!.username, role: user!.role, via: 'password' };
    }
    const pending = sha256Hex(`${username}\0${password}\0${source}`);
    const running = this.checking.get(pending);
    if (running) return running;
    const check = this.check(username, password, source, user, key).finally(() =>
      this.checking.delete(pending),
    );
    this.checking.set(pending, check);
    return check;
  }

  private async check(
    username: string,
    password: string,
    source: string,
    user: UserRecord | undefined,
    key: string | undefined,
  ): Promise<Principal> {
    const rule = this.options.lockout;
    const state = user ? await this.storedState(username, source) : this.strangerState(source);
    if (state.waitSeconds > 0) throw tooManyLogins(username, state.waitSeconds);
    // No more checks at once than failures left before the waits (at least one once a wait is over).
    // Unknown names count per source, whatever the name: random names share one allowance.
    const flying = user ? `${username}\0${source}` : `\0${source}`;
    const running = this.attempting.get(flying) ?? 0;
    if (running >= Math.max(1, rule.attempts - state.failures)) throw tooManyLogins(username, 1);
    this.attempting.set(flying, running + 1);
    let right: boolean;
    try {
      right = await this.gate.run(async () => {
        this.dummyHash ??= hashPassword(sha256Hex(String(Math.random())));
        return verifyPassword(password, user?.passwordHash ?? (await this.dummyHash));
      });
    } finally {
      const left = (this.attempting.get(flying) ?? 1) - 1;
      if (left > 0) this.attempting.set(flying, left);
      else this.attempting.delete(flying);
    }
    if (!user || !right) {
      if (user) {
        // With the database away the failure goes uncounted: a known user's check still ran at most
        // `attempts` at a time.
        await this.store.recordFailure(username, source, rule).catch(() => {});
      } else this.strangerFailed(source);
      throw unauthorized('Authentication failed: wrong username or password');
    }
    if (state.failures > 0) await this.store.clearLogins(username, source).catch(() => {});
    const noted = this.loggedIn.get(username) ?? 0;
    if (this.now() - noted > NOTE_LOGIN_MS) {
      this.loggedIn.set(username, this.now());
      void this.store.noteLogin(username).catch(() => {});
    }
    this.verified.set(key!, this.now());
    if (this.verified.size > 10_000) this.verified.clear();
    return { username: user.username, role: user.role, via: 'password' };
  }

  /** A known user's failures from this source; with the database away, none (a read that failed). */
  private async storedState(username: string, source: string) {
    return this.store.loginState(username, source).catch((error: unknown) => {
      if (error instanceof ApiError && error.status === 503) return { failures: 0, waitSeconds: 0 };
      throw error;
    });
  }

  private strangerState(source: string): { failures: number; waitSeconds: number } {
    const entry = this.strangers.get(source);
    if (!entry) return { failures: 0, waitSeconds: 0 };
    return {
      failures: entry.failures,
      waitSeconds: Math.max(0, Math.ceil((entry.next - this.now()) / 1000)),
    };
  }

  private strangerFailed(source: string): void {
    const entry = this.strangers.get(source) ?? { failures: 0, next: 0 };
    entry.failures += 1;
    entry.next = this.now() + throttleDelay(entry.failures, this.options.lockout) * 1000;
    // Re-inserted, so the oldest entry is the one least recently failed.
    this.strangers.delete(source);
    if (this.strangers.size >= MAX_STRANGER_SOURCES)
      this.strangers.delete(this.strangers.keys().next().value!);
    this.strangers.set(source, entry);
  }
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
