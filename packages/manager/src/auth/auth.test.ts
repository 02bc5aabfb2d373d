import { beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../api/errors.ts';
import {
  Authenticator,
  type AuthStore,
  type ThrottleRule,
  type TokenRecord,
  throttleDelay,
  type UserRecord,
} from './auth.ts';
import { hashPassword, sha256Hex, verifyPassword } from './passwords.ts';

/** Users and tokens in memory: storage is PostgreSQL's job, tested in the integration tests. */
class MemoryStore implements AuthStore {
  users = new Map<string, UserRecord>();
  tokens = new Map<string, TokenRecord>();
  /** (user, source) -> failures in a row and when the next attempt is allowed. */
  throttle = new Map<string, { failures: number; next: number }>();
  now = () => Date.now();
  async getUser(username: string) {
    const user = this.users.get(username);
    return user && { ...user };
  }
  async loginState(username: string, source: string) {
    const entry = this.throttle.get(`${username}\0${source}`);
    if (!entry) return { failures: 0, waitSeconds: 0 };
    return {
      failures: entry.failures,
      waitSeconds: Math.max(0, Math.ceil((entry.next - this.now()) / 1000)),
    };
  }
  /** Failures written (only known users' failures are). */
  writes = 0;
  // The same rule as the PostgreSQL store.
  async recordFailure(username: string, source: string, rule: ThrottleRule) {
    const key = `${username}\0${source}`;
    const entry = this.throttle.get(key) ?? { failures: 0, next: 0 };
    entry.failures += 1;
    entry.next = this.now() + throttleDelay(entry.failures, rule) * 1000;
    this.throttle.set(key, entry);
    this.writes++;
  }
  async clearLogins(username: string, source: string) {
    this.throttle.delete(`${username}\0${source}`);
    this.writes++;
  }
  logins = 0;
  async noteLogin() {
    this.logins++;
  }
  tokenReads = 0;
  async getToken(id: string) {
    this.tokenReads++;
    return this.tokens.get(id);
  }
  async touchToken() {}
}

const adminUser = async (): Promise<UserRecord> => ({
  username: 'admin',
  passwordHash: await hashPassword('right'),
  role: 'sys_admin',
});

const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('authentication', () => {
  let store: MemoryStore;
  let clock: number;
  let auth: Authenticator;

  beforeEach(async () => {
    clock = Date.parse('2026-01-01T00:00:00Z');
    store = new MemoryStore();
    store.now = () => clock;
    store.users.set('admin', await adminUser());
    store.tokens.set('AbCdEfGhIj', {
      id: 'AbCdEfGhIj',
      username: 'admin',
      secretHash: sha256Hex('s'.repeat(40)),
      expirationDate: new Date(clock + 60_000),
    });
    auth = new Authenticator(store, { lockout: { attempts: 5, seconds: 300 }, now: () => clock });
  });

  it('hashes passwords with scrypt and verifies them', async () => {
    const hash = await hashPassword('pw');
    expect(hash).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(await verifyPassword('pw', hash)).toBe(true);
    expect(await verifyPassword('PW', hash)).toBe(false);
    expect(await verifyPassword('pw', 'md5$whatever')).toBe(false);
  });

  it('accepts the right password and refuses a wrong one or a missing header', async () => {
    expect(await auth.authenticate(basic('admin', 'right'))).toMatchObject({
      username: 'admin',
      role: 'sys_admin',
      via: 'password',
    });
    expect((await rejection(auth.authenticate(basic('admin', 'wrong')))).message).toContain(
      'wrong username or password',
    );
    expect((await rejection(auth.authenticate(basic('nobody', 'right')))).code).toBe('unauthorized_error');
    expect((await rejection(auth.authenticate({}))).message).toContain('No authentication info provided');
    expect((await rejection(auth.authenticate({ authorization: 'Bearer x' }))).message).toContain(
      'must be Basic',
    );
  });

  it('makes an address wait 1, 2, 4 ... s after 5 failures in a row, never the right password from elsewhere', async () => {
    const attacker = '203.0.113.9';
    for (let i = 0; i < 5; i++) await rejection(auth.authenticate(basic('admin', 'wrong'), attacker));
    const waiting = await rejection(auth.authenticate(basic('admin', 'right'), attacker));
    expect(waiting.status).toBe(429);
    expect(waiting.message).toContain('try again in 1 s');
    // The admin, from its own address, gets in at once.
    expect((await auth.authenticate(basic('admin', 'right'), '198.51.100.7')).username).toBe('admin');
    clock += 1_000;
    await rejection(auth.authenticate(basic('admin', 'wrong'), attacker));
    expect((await rejection(auth.authenticate(basic('admin', 'wrong'), attacker))).message).toContain(
      'try again in 2 s',
    );
    clock += 2_000;
    await rejection(auth.authenticate(basic('admin', 'wrong'), attacker));
    expect((await rejection(auth.authenticate(basic('admin', 'x'), attacker))).message).toContain('in 4 s');
  });

  it('caps the wait at the configured seconds, and starts over after a right password', async () => {
    const rule = { attempts: 5, seconds: 300 };
    expect([4, 5, 6, 7, 13, 14, 40].map((n) => throttleDelay(n, rule))).toEqual([0, 1, 2, 4, 256, 300, 300]);
    const source = '192.0.2.1';
    for (let i = 0; i < 4; i++) await rejection(auth.authenticate(basic('admin', 'wrong'), source));
    await auth.authenticate(basic('admin', 'right'), source);
    expect(store.throttle.size).toBe(0);
  });

  it('checks no more passwords than the rule allows when guesses arrive in parallel', async () => {
    const source = '203.0.113.10';
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => rejection(auth.authenticate(basic('admin', `guess${i}`), source))),
    );
    expect(store.writes).toBe(5); // each check of a wrong password counts a failure
    expect(answers.filter((answer) => answer.status === 429)).toHaveLength(35);
  });

  it('counts a burst of the same right password as one attempt (a manager that just started)', async () => {
    const source = '192.0.2.3';
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => auth.authenticate(basic('admin', 'right'), source)),
    );
    expect(answers.every((answer) => answer.username === 'admin')).toBe(true);
    // One check, and no write: a successful login needs no database write (reads work in a failover).
    expect(store.writes).toBe(0);
    expect(store.logins).toBe(1);
  });

  it('writes nothing for a successful login, and only its last-login time now and then, unawaited', async () => {
    for (let i = 0; i < 3; i++) {
      await auth.authenticate(basic('admin', 'right'), '192.0.2.4');
      clock += 61_000; // past the verified cache: checked again each time
    }
    expect(store.writes).toBe(0);
    expect(store.logins).toBe(1);
    clock += 10 * 60_000;
    await auth.authenticate(basic('admin', 'right'), '192.0.2.4');
    expect(store.logins).toBe(2);
  });

  it('refuses a long or odd user name before any lookup or check', async () => {
    let lookups = 0;
    const getUser = store.getUser.bind(store);
    store.getUser = async (name: string) => {
      lookups++;
      return getUser(name);
    };
    for (const name of ['x'.repeat(129), 'ad\nmin', 'a\u0000b']) {
      const refused = await rejection(auth.authenticate(basic(name, 'pw'), '192.0.2.5'));
      expect(refused.status).toBe(401);
      expect(refused.message).toContain('at most 128 characters and no control characters');
    }
    expect(lookups).toBe(0);
  });

  it('counts unknown names per source in memory, never in storage, and makes that source wait too', async () => {
    const source = '203.0.113.77';
    for (let i = 0; i < 5; i++) await rejection(auth.authenticate(basic(`made-up-${i}`, 'x'), source));
    expect(store.throttle.size).toBe(0);
    expect(store.writes).toBe(0);
    // Parallel made-up names from one source share its allowance too.
    const parallel = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        rejection(auth.authenticate(basic(`burst-${i}`, 'x'), '203.0.113.78')),
      ),
    );
    expect(parallel.filter((answer) => answer.status === 401)).toHaveLength(5);
    const waiting = await rejection(auth.authenticate(basic('another-made-up', 'x'), source));
    expect(waiting.status).toBe(429);
    // The admin from elsewhere is not affected.
    expect((await auth.authenticate(basic('admin', 'right'), '192.0.2.6')).username).toBe('admin');
  });

  it('keeps no user it does not know in memory, however many names are tried', async () => {
    for (let i = 0; i < 20; i++)
      await rejection(auth.authenticate(basic(`random${i}`, 'x'), `198.51.100.${i % 250}`));
    await auth.authenticate(basic('admin', 'right'), '192.0.2.9');
    const cached = (auth as unknown as { users: Map<string, unknown> }).users;
    expect([...cached.keys()]).toEqual(['admin']);
  });

  it('counts and answers unknown users as it does wrong passwords', async () => {
    const unknown = await rejection(auth.authenticate(basic('nobody', 'x'), '192.0.2.2'));
    const wrong = await rejection(auth.authenticate(basic('admin', 'x'), '192.0.2.2'));
    expect(unknown.message).toBe(wrong.message);
    expect([...store.throttle.keys()].filter((key) => key.startsWith('nobody'))).toHaveLength(0);
  });

  it('accepts a valid token and refuses malformed, unknown, wrong and expired ones', async () => {
    const good = `ctok-AbCdEfGhIj-${'s'.repeat(40)}`;
    expect(await auth.authenticate({ 'authentication-token': good })).toMatchObject({
      via: 'token',
      tokenId: 'AbCdEfGhIj',
    });
    expect(
      (await rejection(auth.authenticate({ 'authentication-token': 'ctok-short-x' }))).message,
    ).toContain('not of the form');
    expect(
      (await rejection(auth.authenticate({ 'authentication-token': `ctok-ZZZZZZZZZZ-${'s'.repeat(40)}` })))
        .message,
    ).toContain('invalid token');
    expect(
      (await rejection(auth.authenticate({ 'authentication-token': `ctok-AbCdEfGhIj-${'t'.repeat(40)}` })))
        .message,
    ).toContain('invalid token');
    clock += 61_000;
    expect((await rejection(auth.authenticate({ 'authentication-token': good }))).message).toContain(
      'expired',
    );
  });

  it('reads a token from storage at most once a second, so a revoked one stops within a second', async () => {
    const good = `ctok-AbCdEfGhIj-${'s'.repeat(40)}`;
    const reads = store.tokenReads;
    for (let i = 0; i < 20; i++) await auth.authenticate({ 'authentication-token': good });
    expect(store.tokenReads - reads).toBe(1);
    store.tokens.delete('AbCdEfGhIj'); // revoked
    clock += 500;
    await auth.authenticate({ 'authentication-token': good }); // still cached
    clock += 600;
    expect((await rejection(auth.authenticate({ 'authentication-token': good }))).message).toContain(
      'invalid token',
    );
  });

  it('drops a token deleted through this manager at once', async () => {
    const good = `ctok-AbCdEfGhIj-${'s'.repeat(40)}`;
    await auth.authenticate({ 'authentication-token': good });
    store.tokens.delete('AbCdEfGhIj');
    auth.forgetToken('AbCdEfGhIj');
    expect((await rejection(auth.authenticate({ 'authentication-token': good }))).message).toContain(
      'invalid token',
    );
  });
});

describe('authentication while the database is away', () => {
  it('lets a user seen before in, and refuses one never seen', async () => {
    let clock = 0;
    const store = new MemoryStore();
    store.users.set('admin', await adminUser());
    const auth = new Authenticator(store, { lockout: { attempts: 5, seconds: 300 }, now: () => clock });
    await auth.authenticate(basic('admin', 'right'));
    store.getUser = async () => {
      throw new ApiError(503, 'service_unavailable_error', 'the database is unavailable');
    };
    clock += 10_000;
    expect((await auth.authenticate(basic('admin', 'right'))).username).toBe('admin');
    expect((await rejection(auth.authenticate(basic('other', 'x')))).status).toBe(503);
  });
});
