/**
 * The manager's configuration, from environment variables, validated once at start. Every problem
 * is reported at once, each naming the variable; secrets are read only from `*_FILE` paths.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  EGRESS_STATES,
  type EgressState,
  type ManagerSecretVariable,
  type ManagerVariable,
  QUEUE_TYPES,
  type QueueType,
  SSL_MODES,
  type SslMode,
} from '@cosmo/topology/manager-env';

export { QUEUE_TYPES, type QueueType, type SslMode };
export const ROLES = ['rest', 'worker', 'all'] as const;
export type Role = (typeof ROLES)[number];

export interface HostPort {
  host: string;
  port: number;
}

export interface ManagerConfig {
  nodeName: string;
  privateIp: string;
  publicIp: string;
  /** `tls`: serve HTTPS only, with this certificate (PEM, its chain after it) and key. */
  http: { host: string; port: number; tls?: { cert: string; key: string } };
  db: {
    /** Fixed host; ignored when Patroni URLs are given. */
    host: string;
    port: number;
    name: string;
    user: string;
    password: string;
    patroniUrls: string[];
    /** https Patroni URLs: its certificate checked against `ca`, and this client certificate shown. */
    patroniTls?: PatroniTls;
    sslMode: SslMode;
    ca: string | undefined;
    external: boolean;
  };
  mq: {
    hosts: HostPort[];
    user: string;
    password: string;
    vhost: string;
    /** AMQPS: the broker's certificate verified against `ca` (or Node's public CAs). */
    tls: boolean;
    ca: string | undefined;
    external: boolean;
    /** quorum (replicated, for a cluster of brokers) or classic (one broker: no Raft log to recover). */
    queueType: QueueType;
  };
  admin: { username: string; password: string | undefined };
  /** What secrets are sealed with (secrets/cipher.ts); without it the secrets API answers 503. */
  secretsKey: string | undefined;
  /** Failed logins in a row (per user and address) before waits start, and the longest wait. */
  lockout: { attempts: number; seconds: number };
  /**
   * The load balancers' names on the network: only from their addresses is the X-Forwarded-For hop
   * they add believed (they drop any a client sent). Empty: the peer's own address, always.
   */
  trustProxy: string[];
  /** Lifetime of a token created without an expiration_date, in seconds. */
  tokenSeconds: number;
  /** The longest lifetime a token may be given (a later expiration_date is refused), in seconds. */
  tokenMaxSeconds: number;
  /** staleSeconds: a manager silent longer is Fail; forgetSeconds: then dropped from the list. */
  heartbeat: { intervalSeconds: number; staleSeconds: number; forgetSeconds: number };
  maxUploadBytes: number;
  /** On SIGTERM, how long `/ok` fails while requests are still served (a load balancer's detection time). */
  drainSeconds: number;
  /** Simulated time per lifecycle operation without a script, for demos and fault tests. */
  stepDelayMs: number;
  operations: {
    /** Where each operation gets its private folder (working folder and ctx socket). */
    dir: string;
    /**
     * Scripts run as uid/gid base + n, one n per running operation, so that no script can read the
     * manager's files or another operation's; 0: as the manager's own user (development only).
     */
    uidBase: number;
    /**
     * `confined`: the container's entrypoint closed the platform's back ends to the scripts' uids.
     * With scripts run as other uids and no such rules, script operations are refused.
     */
    egress: EgressState;
    /** PATH of a script: where `ctx`, bash and python3 are. */
    path: string;
    /** Longest an operation may run when the blueprint gives no timeout. */
    timeoutSeconds: number;
  };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

/**
 * Reads the environment, collecting every problem instead of stopping at the first. Only the names of
 * the contract the planner writes to (`@cosmo/topology/manager-env`) can be read.
 */
class Reader {
  readonly problems: string[] = [];
  private readonly env: Env;
  constructor(env: Env) {
    this.env = env;
  }

  string(name: ManagerVariable, fallback?: string): string {
    const value = this.env[name]?.trim();
    if (value) return value;
    if (fallback !== undefined) return fallback;
    this.problems.push(`${name} is required`);
    return '';
  }

  int(name: ManagerVariable, fallback: number, min: number, max: number): number {
    const raw = this.env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problems.push(`${name}=${raw} is not an integer in ${min}..${max}`);
      return fallback;
    }
    return value;
  }

  bool(name: ManagerVariable): boolean {
    const raw = this.env[name]?.trim().toLowerCase();
    if (!raw) return false;
    if (['1', 'true', 'yes'].includes(raw)) return true;
    if (!['0', 'false', 'no'].includes(raw))
      this.problems.push(`${name}=${raw} is not a boolean (true or false)`);
    return false;
  }

  oneOf<T extends string>(name: ManagerVariable, choices: readonly T[], fallback: T): T {
    const raw = this.env[name]?.trim();
    if (!raw) return fallback;
    if ((choices as readonly string[]).includes(raw)) return raw as T;
    this.problems.push(`${name}=${raw} is not one of ${choices.join(', ')}`);
    return fallback;
  }

  /** A secret from the file `variable` names; the plain variable without `_FILE` is refused. */
  secret(variable: ManagerSecretVariable, required: boolean): string | undefined {
    const plain = variable.replace(/_FILE$/, '');
    if (this.env[plain] !== undefined) {
      this.problems.push(`${plain} must not be set: give the secret as a file with ${variable}`);
    }
    const file = this.env[variable]?.trim();
    if (!file) {
      if (required) this.problems.push(`${variable} is required (a file holding the secret)`);
      return undefined;
    }
    try {
      const value = readFileSync(file, 'utf8').trim();
      if (!value) this.problems.push(`${variable}=${file} is empty`);
      return value;
    } catch (error) {
      this.problems.push(
        `${variable}=${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`,
      );
      return undefined;
    }
  }

  file(name: ManagerVariable): string | undefined {
    const file = this.env[name]?.trim();
    if (!file) return undefined;
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      this.problems.push(
        `${name}=${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`,
      );
      return undefined;
    }
  }

  hostPorts(name: ManagerVariable, defaultPort: number): HostPort[] {
    const raw = this.string(name);
    const result: HostPort[] = [];
    for (const item of raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(item);
      const port = match?.[2] ? Number(match[2]) : defaultPort;
      if (!match || port < 1 || port > 65535) {
        this.problems.push(`${name}: '${item}' is not host or host:port`);
        continue;
      }
      result.push({ host: match[1]!, port });
    }
    return result;
  }

  /** Host names (or addresses), comma-separated; a boolean is refused, as trusting every peer would be. */
  names(name: ManagerVariable): string[] {
    const raw = this.env[name]?.trim();
    if (!raw || ['false', 'no', '0'].includes(raw.toLowerCase())) return [];
    const names = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const item of names) {
      if (['true', 'yes', '1'].includes(item.toLowerCase())) {
        this.problems.push(
          `${name}=${raw}: name the load balancers whose X-Forwarded-For is trusted (e.g. lb), not every peer`,
        );
      } else if (!/^[A-Za-z0-9][A-Za-z0-9.:-]*$/.test(item)) {
        this.problems.push(`${name}: '${item}' is not a host name or address`);
      }
    }
    return names;
  }

  urls(name: ManagerVariable): string[] {
    const raw = this.env[name]?.trim();
    if (!raw) return [];
    const urls: string[] = [];
    for (const item of raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      try {
        const url = new URL(item);
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
        urls.push(url.toString().replace(/\/$/, ''));
      } catch {
        this.problems.push(`${name}: '${item}' is not an http(s) URL`);
      }
    }
    return urls;
  }
}

/** This host's first non-loopback IPv4 address (the container's address on its network). */
function ownAddress(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return os.hostname();
}

/** The API's certificate and key: both or neither (neither: plain HTTP). */
/** PEM contents: the CA Patroni's certificate is checked against, and the client certificate shown. */
export interface PatroniTls {
  ca: string;
  cert: string;
  key: string;
}

/** Patroni's REST API over TLS: its CA, and the client certificate it requires. All three or none. */
function patroniTls(r: Reader, urls: readonly string[]): { patroniTls?: PatroniTls } {
  const names = [
    'COSMO_DB_PATRONI_CA_FILE',
    'COSMO_DB_PATRONI_CERT_FILE',
    'COSMO_DB_PATRONI_KEY_FILE',
  ] as const;
  const [ca, cert, key] = names.map((name) => r.file(name));
  const given = [ca, cert, key].filter((value) => value !== undefined).length;
  const https = urls.some((url) => url.startsWith('https:'));
  if (given === 3 && https) return { patroniTls: { ca: ca!, cert: cert!, key: key! } };
  if (given > 0 && given < 3) r.problems.push(`${names.join(', ')} go together: give all three or none`);
  else if (given === 3)
    r.problems.push('COSMO_DB_PATRONI_*_FILE are for https Patroni URLs: COSMO_DB_PATRONI_URLS has none');
  else if (https)
    r.problems.push(`https Patroni URLs need ${names.join(', ')} (Patroni asks for a client certificate)`);
  return {};
}

function httpsFiles(r: Reader): { tls?: { cert: string; key: string } } {
  const cert = r.file('COSMO_HTTP_TLS_CERT_FILE');
  const key = r.file('COSMO_HTTP_TLS_KEY_FILE');
  if (cert !== undefined && key !== undefined) return { tls: { cert, key } };
  if (cert !== undefined || key !== undefined) {
    r.problems.push(
      'COSMO_HTTP_TLS_CERT_FILE and COSMO_HTTP_TLS_KEY_FILE go together: give both (HTTPS) or neither (HTTP)',
    );
  }
  return {};
}

export function loadConfig(env: Env = process.env): ManagerConfig {
  const r = new Reader(env);
  const patroniUrls = r.urls('COSMO_DB_PATRONI_URLS');
  const mqTls = r.bool('COSMO_MQ_TLS');
  const config: ManagerConfig = {
    nodeName: r.string('COSMO_NODE_NAME', os.hostname()),
    privateIp: r.string('COSMO_PRIVATE_IP', ownAddress()),
    publicIp: r.string('COSMO_PUBLIC_IP', r.string('COSMO_PRIVATE_IP', ownAddress())),
    http: {
      host: r.string('COSMO_HTTP_HOST', '0.0.0.0'),
      port: r.int('COSMO_HTTP_PORT', 8080, 1, 65535),
      ...httpsFiles(r),
    },
    db: {
      host: patroniUrls.length > 0 ? r.string('COSMO_DB_HOST', '') : r.string('COSMO_DB_HOST'),
      port: r.int('COSMO_DB_PORT', 5432, 1, 65535),
      name: r.string('COSMO_DB_NAME', 'cosmo'),
      user: r.string('COSMO_DB_USER', 'cosmo'),
      password: r.secret('COSMO_DB_PASSWORD_FILE', true) ?? '',
      patroniUrls,
      ...patroniTls(r, patroniUrls),
      sslMode: r.oneOf('COSMO_DB_SSLMODE', SSL_MODES, 'disable'),
      ca: r.file('COSMO_DB_CA_FILE'),
      external: r.bool('COSMO_DB_EXTERNAL'),
    },
    mq: {
      hosts: r.hostPorts('COSMO_MQ_HOSTS', mqTls ? 5671 : 5672),
      user: r.string('COSMO_MQ_USER', 'cosmo'),
      password: r.secret('COSMO_MQ_PASSWORD_FILE', true) ?? '',
      vhost: r.string('COSMO_MQ_VHOST', '/'),
      tls: mqTls,
      ca: r.file('COSMO_MQ_CA_FILE'),
      external: r.bool('COSMO_MQ_EXTERNAL'),
      queueType: r.oneOf('COSMO_MQ_QUEUE_TYPE', QUEUE_TYPES, 'quorum'),
    },
    admin: {
      username: r.string('COSMO_ADMIN_USERNAME', 'admin'),
      password: r.secret('COSMO_ADMIN_PASSWORD_FILE', false),
    },
    secretsKey: r.secret('COSMO_SECRETS_KEY_FILE', false),
    lockout: {
      attempts: r.int('COSMO_LOCKOUT_ATTEMPTS', 5, 1, 1000),
      seconds: r.int('COSMO_LOCKOUT_SECONDS', 300, 1, 86_400),
    },
    trustProxy: r.names('COSMO_TRUST_PROXY'),
    tokenSeconds: r.int('COSMO_TOKEN_SECONDS', 36_000, 60, 365 * 86_400),
    tokenMaxSeconds: r.int('COSMO_TOKEN_MAX_SECONDS', 30 * 86_400, 60, 365 * 86_400),
    heartbeat: {
      intervalSeconds: r.int('COSMO_HEARTBEAT_SECONDS', 2, 1, 60),
      staleSeconds: r.int('COSMO_HEARTBEAT_STALE_SECONDS', 15, 2, 600),
      forgetSeconds: r.int('COSMO_MANAGER_FORGET_SECONDS', 86_400, 60, 365 * 86_400),
    },
    maxUploadBytes: r.int('COSMO_MAX_UPLOAD_BYTES', 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    stepDelayMs: r.int('COSMO_STEP_DELAY_MS', 0, 0, 60_000),
    operations: {
      dir: r.string('COSMO_OPERATIONS_DIR', path.join(os.tmpdir(), 'cosmo-operations')),
      uidBase: r.int('COSMO_OPERATIONS_UID_BASE', 0, 0, 2 ** 31 - 1000),
      egress: r.oneOf('COSMO_OPERATIONS_EGRESS', EGRESS_STATES, 'open'),
      path: r.string('COSMO_OPERATIONS_PATH', '/opt/cosmo/bin:/usr/local/bin:/usr/bin:/bin'),
      timeoutSeconds: r.int('COSMO_OPERATION_TIMEOUT_SECONDS', 3600, 1, 86_400),
    },
    drainSeconds: r.int('COSMO_DRAIN_SECONDS', 0, 0, 300),
  };
  if (config.tokenSeconds > config.tokenMaxSeconds) {
    r.problems.push('COSMO_TOKEN_SECONDS must not be greater than COSMO_TOKEN_MAX_SECONDS');
  }
  if (config.heartbeat.staleSeconds <= config.heartbeat.intervalSeconds) {
    r.problems.push('COSMO_HEARTBEAT_STALE_SECONDS must be greater than COSMO_HEARTBEAT_SECONDS');
  }
  if (config.heartbeat.forgetSeconds <= config.heartbeat.staleSeconds) {
    r.problems.push('COSMO_MANAGER_FORGET_SECONDS must be greater than COSMO_HEARTBEAT_STALE_SECONDS');
  }
  if (config.db.sslMode.startsWith('verify') && !config.db.ca) {
    r.problems.push(
      `COSMO_DB_SSLMODE=${config.db.sslMode} needs COSMO_DB_CA_FILE (the server's CA certificate)`,
    );
  }
  if (config.mq.ca && !config.mq.tls) {
    r.problems.push(
      'COSMO_MQ_CA_FILE is only used with COSMO_MQ_TLS=true: set it, or unset COSMO_MQ_CA_FILE',
    );
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}
