/**
 * `cosmo-manager rest|worker|all`: validates the configuration, migrates the schema, creates the
 * admin, then serves the REST API and/or runs the workflow worker until SIGTERM.
 */

import { sleep, waitFor } from '@cosmo/wait';
import { Maintenance } from './api/maintenance.ts';
import { createServer } from './api/server.ts';
import { TrustedProxies } from './api/trusted-proxies.ts';
import { Authenticator } from './auth/auth.ts';
import { ensureAdmin, pgAuthStore } from './auth/users.ts';
import { BrokerClient } from './broker/client.ts';
import { ConfigError, loadConfig, ROLES, type Role } from './config.ts';
import type { AppContext, VersionInfo } from './context.ts';
import { HealthMonitor } from './health/health.ts';
import { createLogger } from './log.ts';
import { Secrets } from './secrets/store.ts';
import { Database } from './storage/db.ts';
import { migrate } from './storage/migrations.ts';
import { Worker } from './workflows/worker.ts';

declare const COSMO_VERSION: string | undefined;

const USAGE = `usage: cosmo-manager <rest|worker|all>
  rest    serve the REST API on COSMO_HTTP_PORT (8080)
  worker  run the workflow worker
  all     both (the default in the images)
configuration: COSMO_* environment variables; secrets only as *_FILE paths`;

function versionInfo(): VersionInfo {
  return {
    edition: 'community',
    version: process.env.COSMO_VERSION ?? (typeof COSMO_VERSION === 'string' ? COSMO_VERSION : '0.0.0-dev'),
    build: process.env.COSMO_BUILD ?? null,
    date: process.env.COSMO_BUILD_DATE ?? null,
    commit: process.env.COSMO_COMMIT ?? null,
    distribution: 'debian',
    distro_release: 'trixie',
  };
}

async function retry<T>(
  what: string,
  log: ReturnType<typeof createLogger>,
  fn: () => Promise<T>,
  seconds = 120,
): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  // Wrapped: a function that resolves to nothing has still succeeded.
  const { value } = await waitFor(what, async () => ({ value: await fn() }), {
    delayMs: (attempt) => Math.min(200 * attempt, 1_000),
    // Past the deadline the error itself ends the start, in its own words.
    onError: (error, attempt) => {
      if (Date.now() > deadline) return 'throw';
      if (attempt === 1 || attempt % 10 === 0) log.warn(`${what}: ${(error as Error).message}; retrying`);
      return 'retry';
    },
  });
  return value;
}

export async function main(argv: string[]): Promise<number> {
  const role = (argv[0] ?? 'all') as Role;
  if (argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!ROLES.includes(role) || argv.length > 1) {
    process.stderr.write(`cosmo-manager: unknown arguments '${argv.join(' ')}'\n${USAGE}\n`);
    return 2;
  }
  const log = createLogger(`manager/${role}`);
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`cosmo-manager: ${error.message}\n`);
      return 2;
    }
    throw error;
  }

  const db = new Database(config.db, log);
  await retry('waiting for the database', log, async () => {
    await db.rediscover();
    await migrate(db, log);
  });
  await ensureAdmin(db, config.admin.username, config.admin.password, log);

  const broker = new BrokerClient(config.mq, log);
  const secrets = new Secrets(db, config.secretsKey);
  const worker = role === 'rest' ? undefined : new Worker(db, secrets, broker, log, config);
  await worker?.start();
  broker.start();

  const version = versionInfo();
  const health = new HealthMonitor({ db, broker, worker, config, version: version.version, role, log });
  health.start();

  const auth = new Authenticator(pgAuthStore(db), { lockout: config.lockout });
  const proxies = new TrustedProxies(config.trustProxy, log);
  await proxies.start();
  const ctx: AppContext = {
    config,
    db,
    broker,
    health,
    auth,
    maintenance: new Maintenance(db),
    secrets,
    proxies,
    version,
    log,
  };
  const app = role === 'worker' ? undefined : await createServer(ctx);
  if (app) {
    await app.listen({ host: config.http.host, port: config.http.port });
    log.info(
      `REST API on ${config.http.tls ? 'https' : 'http'}://${config.http.host}:${config.http.port}/api/v3.1`,
    );
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info(`${signal}: stopping`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  if (app && config.drainSeconds > 0) {
    health.draining = true;
    log.info(`draining: /ok fails for ${config.drainSeconds} s while requests are still served`);
    await sleep(config.drainSeconds * 1000);
  }
  health.stop();
  proxies.stop();
  await app?.close();
  await broker.close();
  await db.end();
  return 0;
}
