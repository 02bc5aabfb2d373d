import { beforeEach, describe, expect, it } from 'vitest';
import { Authenticator, type AuthStore, type TokenRecord, type UserRecord } from './auth.ts';
import { ApiError } from './errors.ts';
import { hashPassword, sha256Hex, verifyPassword } from './passwords.ts';

/** Users and tokens in memory: storage is PostgreSQL's job, tested in the integration tests. */
class MemoryStore implements AuthStore {
  users = new Map<string, UserRecord>();
  tokens = new Map<string, TokenRecord>();
  now = () => Date.now();
  async getUser(username: string) {
    const user = this.users.get(username);
    return user && { ...user };
  }
  async recordFailure(username: string, attempts: number, lockSeconds: number) {
    const user = this.users.get(username);
    if (!user) return undefined;
    user.failedLogins += 1;
    if (user.failedLogins >= attempts) {
      user.failedLogins = 0;
      user.lockedUntil = new Date(this.now() + lockSeconds * 1000);
    }
    return { ...user };
  }
  async recordSuccess(username: string) {
    const user = this.users.get(username);
    if (user) user.failedLogins = 0;
  }
  async getToken(id: string) {
    return this.tokens.get(id);
  }
  async touchToken() {}
}

const adminUser = async (): Promise<UserRecord> => ({
  username: 'admin',
  passwordHash: await hashPassword('right'),
  role: 'sys_admin',
  failedLogins: 0,
  lockedUntil: null,
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

  it('locks the account after 5 consecutive failures, even for the right password, until the period ends', async () => {
    for (let i = 0; i < 4; i++) await rejection(auth.authenticate(basic('admin', 'wrong')));
    expect((await rejection(auth.authenticate(basic('admin', 'wrong')))).message).toContain(
      'now locked for 300 s',
    );
    clock += 1_500; // past the user cache
    expect((await rejection(auth.authenticate(basic('admin', 'right')))).message).toMatch(
      /locked .* try again in 299 s/,
    );
    clock += 300_000;
    expect((await auth.authenticate(basic('admin', 'right'))).username).toBe('admin');
  });

  it('resets the failure count after a success', async () => {
    for (let i = 0; i < 4; i++) await rejection(auth.authenticate(basic('admin', 'wrong')));
    await auth.authenticate(basic('admin', 'right'));
    expect(store.users.get('admin')?.failedLogins).toBe(0);
    await rejection(auth.authenticate(basic('admin', 'wrong')));
    expect(store.users.get('admin')?.lockedUntil).toBeNull();
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
