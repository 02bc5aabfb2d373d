/**
 * The database connection: one pg pool to the primary. With Patroni URLs the primary is looked up
 * through Patroni and the pool is rebuilt when it moves; otherwise it is the one configured host.
 *
 * While a Patroni cluster has no primary (a failover), reads go on and writes wait: `read` is served
 * by a standby (read-only sessions, a synchronous standby first, which has applied every commit
 * before it was acknowledged: synchronous_commit = remote_apply), and `query`/`transaction` wait a
 * bounded time for the new primary, then answer 503 naming the failover, never hanging.
 */

import { sleep, waitFor } from '@cosmo/wait';
import pg from 'pg';
import { ApiError, unavailable } from '../api/errors.ts';
import type { ManagerConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import { clusterMembers, findPrimary, readableStandby } from './patroni.ts';

/** How long a write waits for a new primary during a failover before its 503. */
export const WRITE_WAIT_MS = 5_000;

/** A failover's answer to a write that waited its turn: 503, in the API's format, saying why and since when. */
export const failingOver = (since: Date, waitedMs: number) =>
  new ApiError(
    503,
    'service_unavailable_error',
    `database failover in progress since ${since.toISOString()}: no primary takes writes yet (waited ${waitedMs / 1000} s); reads are still served; try again in a few seconds`,
  );

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
  // "Query read timeout": query_timeout passed with no answer, as from a host that died mid-query
  // (no reset comes): the primary is as good as gone.
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect|Query read timeout/i.test(
    e?.message ?? '',
  );
}

/**
 * Listens on a client checked out of a pool until it is released. pg emits 'error' on a client whose
 * connection ends between two statements (no query to fail); nobody listening, that event ends the
 * process (it did when a primary was killed under a transaction). Here it only marks the client
 * broken: the next statement fails, and the release destroys the connection.
 */
function guarded(client: pg.PoolClient): pg.PoolClient & { readonly lost: boolean } {
  let lost = false;
  const onError = () => {
    lost = true;
  };
  client.on('error', onError);
  const release = client.release.bind(client);
  client.release = (destroy?: boolean | Error) => {
    client.off('error', onError);
    release(destroy || lost);
  };
  return Object.defineProperty(client, 'lost', { get: () => lost, configurable: true }) as pg.PoolClient & {
    readonly lost: boolean;
  };
}

export class Database {
  private pool: pg.Pool | undefined;
  private host: string | undefined;
  private readonly config: ManagerConfig['db'];
  private readonly log: Logger;
  private discovering: Promise<void> | undefined;
  /** Since when no primary has answered (Patroni clusters only); undefined while one does. */
  private lostAt: Date | undefined;
  /** Where reads go while there is no primary; kept until it fails. */
  private standby: { host: string; pool: pg.Pool } | undefined;
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

  /** Since when the cluster has had no primary that answers, while it has none. */
  get failoverSince(): Date | undefined {
    return this.lostAt;
  }

  /** Standbys exist to read from: the database is a Patroni cluster. */
  private get replicated(): boolean {
    return this.config.patroniUrls.length > 0;
  }

  private primaryLost(): void {
    if (!this.replicated || this.lostAt) return;
    this.lostAt = new Date();
    this.log.warn('no database primary answers: reads go to a standby, writes wait for a new primary');
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

  private makePool(host: string, readOnly = false): pg.Pool {
    const pool = new pg.Pool({
      host,
      // A standby's sessions stay read-only after its promotion too: a read path never writes.
      ...(readOnly ? { options: '-c default_transaction_read_only=on' } : {}),
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
      application_name: readOnly ? 'cosmo-manager-reads' : 'cosmo-manager',
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
      if (readOnly) return; // the standby is replaced at the next read that fails on it
      this.primaryLost();
      // Follow Patroni until a primary answers (a bare rediscover() may find no leader yet, and its
      // rejection here would be unhandled: it ended the process when a compact node died).
      if (this.replicated) void this.follow();
    });
    return pool;
  }

  /** Finds the primary and (re)builds the pool when it moved. */
  async rediscover(): Promise<void> {
    this.discovering ??= (async () => {
      try {
        const host = this.replicated
          ? await findPrimary(this.config.patroniUrls, this.config.patroniTls)
          : this.config.host;
        if (!host) {
          this.primaryLost();
          throw unavailable(
            'database failover in progress: Patroni reports no primary yet; try again in a few seconds',
          );
        }
        if (host !== this.host || !this.pool) {
          const old = this.pool;
          if (this.host) this.log.info(`database primary moved: ${this.host} -> ${host}`);
          this.pool = this.makePool(host);
          this.host = host;
          if (old)
            this.replaced
              .get(old)
              ?.reject(unavailable(`database failover: the primary moved to ${host}; try again`));
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

  /** A statement on the primary (a write, or a read that must see the latest commit). */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    await this.primaryBack();
    return this.onPrimary<R>(text, values);
  }

  private async onPrimary<R extends pg.QueryResultRow>(
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

  /**
   * A read: on the primary while one answers, else on a standby. A read that fails because the
   * primary went away under it is asked again of the new primary, when one is known, or a standby.
   */
  async read<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    if (!this.lostAt) {
      try {
        return await this.onPrimary<R>(text, values);
      } catch (error) {
        if (!this.replicated || !(error instanceof ApiError) || error.status !== 503) throw error;
        if (!this.lostAt) return this.onPrimary<R>(text, values);
      }
    }
    return this.onStandby<R>(text, values);
  }

  /** `text` on the standby reads use, chosen again (once) when the one in use fails. */
  private async onStandby<R extends pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    let lastError: unknown;
    for (const fresh of [false, true]) {
      const standby = await this.standbyPool(fresh);
      if (!standby) break;
      try {
        return await standby.query<R>(text, values);
      } catch (error) {
        if (!isConnectionError(error)) throw error;
        lastError = error;
        this.dropStandby();
      }
    }
    throw unavailable(
      `the database is failing over and no standby answers${lastError ? ` (${(lastError as Error).message})` : ''}: try again in a few seconds`,
    );
  }

  private async standbyPool(fresh: boolean): Promise<pg.Pool | undefined> {
    if (this.standby && !fresh) return this.standby.pool;
    const members = await clusterMembers(this.config.patroniUrls, this.config.patroniTls).catch(() => []);
    const host = readableStandby(members, this.host);
    if (!host) return undefined;
    if (this.standby?.host !== host) {
      this.dropStandby();
      this.standby = { host, pool: this.makePool(host, true) };
      this.log.info(`reads go to the standby ${host} while there is no primary`);
    }
    return this.standby.pool;
  }

  private dropStandby(): void {
    void this.standby?.pool.end().catch(() => {});
    this.standby = undefined;
  }

  /** During a failover, waits up to WRITE_WAIT_MS for a primary; then a 503 naming the failover. */
  private async primaryBack(): Promise<void> {
    const since = this.lostAt;
    if (!since) return;
    void this.follow();
    await waitFor('a new database primary', async () => (this.lostAt ? undefined : true), {
      timeoutMs: WRITE_WAIT_MS,
      delayMs: 100,
    }).catch(() => {
      throw failingOver(since, WRITE_WAIT_MS);
    });
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
    await this.primaryBack();
    const pool = await this.currentPool();
    let client: ReturnType<typeof guarded>;
    const connecting = pool.connect();
    try {
      client = guarded(await this.unlessReplaced(pool, connecting));
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

  /**
   * Runs fn holding a session advisory lock named `name`, waiting while another session holds it.
   * The lock lives as long as its connection: a holder that dies (its manager killed) lets the next
   * one in. Used so that one execution never runs in two workers at once.
   */
  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const client = await this.connect();
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
      if (!client.lost) await client.query('SELECT pg_advisory_unlock(hashtext($1))', [name]).catch(() => {});
      client.release();
    }
  }

  /** A dedicated client (for advisory locks held across statements); `release()` it. */
  async connect(): Promise<ReturnType<typeof guarded>> {
    return guarded(await (await this.currentPool()).connect());
  }

  private translate(error: unknown): unknown {
    if (!isConnectionError(error)) return error;
    const message = (error as Error).message;
    if (!this.replicated) return unavailable(`the database is unavailable: ${message}`);
    this.primaryLost();
    void this.follow();
    return unavailable(
      `the database primary stopped answering (${message}): a failover may be in progress; try again in a few seconds`,
    );
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
          if (this.lostAt) this.log.info(`database primary ${this.host} takes writes again`);
          this.lostAt = undefined;
          return true;
        },
        { timeoutMs: 120_000, delayMs: 500 },
      ).catch(() => {}); // the next failing request starts following again
    } finally {
      this.following = false;
    }
  }

  async end(): Promise<void> {
    this.dropStandby();
    await this.pool?.end().catch(() => {});
    this.pool = undefined;
  }
}
