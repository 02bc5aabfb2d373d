/**
 * The database connection: one pg pool to the primary. With Patroni URLs the primary is looked up
 * through Patroni and the pool is rebuilt when it moves; otherwise it is the one configured host.
 */

import { sleep, waitFor } from '@cosmo/wait';
import pg from 'pg';
import { unavailable } from '../api/errors.ts';
import type { ManagerConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import { findPrimary } from './patroni.ts';

/** Anything that runs a statement: the Database itself or a client inside a transaction. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

/** Errors that mean "the database cannot be reached now" rather than "the query is wrong". */
export function isConnectionError(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  if (e?.code && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)$/.test(e.code))
    return true;
  // 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now, 08xxx connection exceptions,
  // 25006 read-only transaction (a demoted primary)
  if (e?.code && /^(57P0[123]|08\d{3}|25006)$/.test(e.code)) return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(
    e?.message ?? '',
  );
}

export class Database {
  private pool: pg.Pool | undefined;
  private host: string | undefined;
  private readonly config: ManagerConfig['db'];
  private readonly log: Logger;
  private discovering: Promise<void> | undefined;
  /**
   * For each pool, a promise that rejects when the pool is replaced (the primary moved): requests
   * still waiting on the old primary — a dead host answers nothing until a timeout — end at once with
   * a 503 and the client's retry goes to the new primary, instead of waiting out connect or query
   * timeouts. Nothing acknowledged is lost: a request that ends this way was not acknowledged.
   */
  private readonly replaced = new WeakMap<
    pg.Pool,
    { promise: Promise<never>; reject: (error: Error) => void }
  >();

  constructor(config: ManagerConfig['db'], log: Logger) {
    this.config = config;
    this.log = log;
  }

  get primaryHost(): string | undefined {
    return this.host;
  }

  private ssl(): pg.PoolConfig['ssl'] {
    const { sslMode, ca } = this.config;
    if (sslMode === 'disable') return false;
    if (sslMode === 'require') return { rejectUnauthorized: false };
    return {
      ca,
      rejectUnauthorized: true,
      // verify-ca checks the chain only; verify-full also the host name (Node's default).
      ...(sslMode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
    };
  }

  private makePool(host: string): pg.Pool {
    const pool = new pg.Pool({
      host,
      port: this.config.port,
      database: this.config.name,
      user: this.config.user,
      password: this.config.password,
      ssl: this.ssl(),
      // Each running execution holds one connection for its lock (worker.ts): room for them and the API.
      max: 16,
      connectionTimeoutMillis: 3_000,
      idleTimeoutMillis: 30_000,
      // A primary that died mid-query never answers: 5 s, then the request fails and Patroni is asked.
      query_timeout: 5_000,
      application_name: 'cosmo-manager',
    });
    let reject: (error: Error) => void = () => {};
    const promise = new Promise<never>((_, no) => {
      reject = no;
    });
    promise.catch(() => {}); // rejected on replacement whether or not a request is waiting
    this.replaced.set(pool, { promise, reject });
    // An idle client losing its server emits here; without a listener the process would exit.
    pool.on('error', (error) => {
      this.log.warn(`database connection lost (${error.message})`);
      // Follow Patroni until a primary answers (a bare rediscover() may find no leader yet, and its
      // rejection here would be unhandled: it ended the process when a compact node died).
      if (this.config.patroniUrls.length > 0) void this.follow();
    });
    return pool;
  }

  /** Finds the primary and (re)builds the pool when it moved. */
  async rediscover(): Promise<void> {
    this.discovering ??= (async () => {
      try {
        const host =
          this.config.patroniUrls.length > 0
            ? await findPrimary(this.config.patroniUrls, this.config.patroniTls)
            : this.config.host;
        if (!host) throw unavailable('no database primary: Patroni reports no leader');
        if (host !== this.host || !this.pool) {
          const old = this.pool;
          if (this.host) this.log.info(`database primary moved: ${this.host} -> ${host}`);
          this.pool = this.makePool(host);
          this.host = host;
          if (old)
            this.replaced.get(old)?.reject(unavailable(`the database primary moved to ${host}: try again`));
          void old?.end().catch(() => {});
        }
      } finally {
        this.discovering = undefined;
      }
    })();
    return this.discovering;
  }

  private async currentPool(): Promise<pg.Pool> {
    if (!this.pool) await this.rediscover();
    return this.pool!;
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    const pool = await this.currentPool();
    try {
      return await this.unlessReplaced(pool, pool.query<R>(text, values));
    } catch (error) {
      throw this.translate(error);
    }
  }

  /** `work` on `pool`, or a 503 as soon as the pool is replaced (see `replaced`). */
  private unlessReplaced<T>(pool: pg.Pool, work: Promise<T>): Promise<T> {
    const replaced = this.replaced.get(pool);
    if (!replaced) return work;
    work.catch(() => {}); // its own failure, after the race is lost, is nobody's
    return Promise.race([work, replaced.promise]);
  }

  /** Runs fn in a transaction; rolls back on any error. */
  async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const pool = await this.currentPool();
    let client: pg.PoolClient;
    const connecting = pool.connect();
    try {
      client = await this.unlessReplaced(pool, connecting);
    } catch (error) {
      // A connection that comes after the race is lost goes back to its (ended) pool.
      connecting.then((late) => late.release(true)).catch(() => {});
      throw this.translate(error);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      broken = isConnectionError(error);
      if (!broken) await client.query('ROLLBACK').catch(() => {});
      throw this.translate(error);
    } finally {
      client.release(broken);
    }
  }

  /** A dedicated client (for advisory locks held across statements). */
  /**
   * Runs fn holding a session advisory lock named `name`, waiting while another session holds it.
   * The lock lives as long as its connection: a holder that dies (its manager killed) lets the next
   * one in. Used so that one execution never runs in two workers at once.
   */
  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken = false;
    client.on('error', () => {
      broken = true;
    });
    try {
      // Polled rather than waited for in the server: a blocking call would outlast query_timeout.
      for (;;) {
        const { rows } = await client.query<{ locked: boolean }>(
          'SELECT pg_try_advisory_lock(hashtext($1)) AS locked',
          [name],
        );
        if (rows[0]?.locked) break;
        await sleep(500);
      }
      return await fn();
    } finally {
      if (!broken) await client.query('SELECT pg_advisory_unlock(hashtext($1))', [name]).catch(() => {});
      client.release(broken);
    }
  }

  async connect(): Promise<pg.PoolClient> {
    return (await this.currentPool()).connect();
  }

  private translate(error: unknown): unknown {
    if (!isConnectionError(error)) return error;
    if (this.config.patroniUrls.length > 0) void this.follow();
    return unavailable(`the database is unavailable: ${(error as Error).message}`);
  }

  private following = false;

  /**
   * After a lost connection, asks Patroni every 500 ms until a primary answers (for up to 2 minutes),
   * so the pool moves as soon as a standby is promoted, not when the next request happens to fail.
   */
  private async follow(): Promise<void> {
    if (this.following) return;
    this.following = true;
    try {
      await waitFor(
        'a primary',
        async () => {
          const before = this.host;
          await this.rediscover();
          // Another primary, or the same one answering again.
          if (this.host === before) await this.pool?.query('SELECT 1');
          return true;
        },
        { timeoutMs: 120_000, delayMs: 500 },
      ).catch(() => {}); // the next failing request starts following again
    } finally {
      this.following = false;
    }
  }

  async end(): Promise<void> {
    await this.pool?.end().catch(() => {});
    this.pool = undefined;
  }
}
