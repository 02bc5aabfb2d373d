import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

let dir: string;
let secret: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cosmo-config-'));
  secret = path.join(dir, 'secret');
  await writeFile(secret, 's3cret\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const minimal = () => ({
  COSMO_DB_HOST: 'db',
  COSMO_DB_PASSWORD_FILE: secret,
  COSMO_MQ_HOSTS: 'mq1,mq2:5673',
  COSMO_MQ_PASSWORD_FILE: secret,
});

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('manager configuration', () => {
  it('reads a minimal environment with defaults and secrets from files', () => {
    const config = loadConfig(minimal());
    expect(config.db).toMatchObject({
      host: 'db',
      port: 5432,
      password: 's3cret',
      sslMode: 'disable',
      patroniUrls: [],
    });
    expect(config.mq.hosts).toEqual([
      { host: 'mq1', port: 5672 },
      { host: 'mq2', port: 5673 },
    ]);
    expect(config.http.port).toBe(8080);
    expect(config.lockout).toEqual({ attempts: 5, seconds: 300 });
  });

  it('lists every problem at once, each naming its variable', () => {
    expect(
      problems({
        COSMO_DB_PASSWORD: 'plain',
        COSMO_MQ_HOSTS: 'good,bad:99999',
        COSMO_MQ_PASSWORD_FILE: path.join(dir, 'missing'),
        COSMO_HTTP_PORT: 'eighty',
        COSMO_DB_SSLMODE: 'maybe',
        COSMO_DB_PATRONI_URLS: 'ftp://x',
      }),
    ).toEqual([
      "COSMO_DB_PATRONI_URLS: 'ftp://x' is not an http(s) URL",
      'COSMO_HTTP_PORT=eighty is not an integer in 1..65535',
      'COSMO_DB_HOST is required',
      'COSMO_DB_PASSWORD must not be set: give the secret as a file with COSMO_DB_PASSWORD_FILE',
      'COSMO_DB_PASSWORD_FILE is required (a file holding the secret)',
      'COSMO_DB_SSLMODE=maybe is not one of disable, require, verify-ca, verify-full',
      "COSMO_MQ_HOSTS: 'bad:99999' is not host or host:port",
      `COSMO_MQ_PASSWORD_FILE=${path.join(dir, 'missing')} cannot be read (ENOENT)`,
    ]);
  });

  it('needs no fixed database host when Patroni finds the primary', () => {
    const { COSMO_DB_HOST: _, ...env } = minimal();
    const config = loadConfig({ ...env, COSMO_DB_PATRONI_URLS: 'http://db1:8008, http://db2:8008/' });
    expect(config.db.patroniUrls).toEqual(['http://db1:8008', 'http://db2:8008']);
  });

  it('reaches https Patroni URLs with its CA and client certificate, all three given or none', () => {
    const { COSMO_DB_HOST: _, ...env } = minimal();
    const https = { ...env, COSMO_DB_PATRONI_URLS: 'https://db1:8008' };
    const files = {
      COSMO_DB_PATRONI_CA_FILE: secret,
      COSMO_DB_PATRONI_CERT_FILE: secret,
      COSMO_DB_PATRONI_KEY_FILE: secret,
    };
    expect(loadConfig({ ...https, ...files }).db.patroniTls).toEqual({
      ca: 's3cret\n',
      cert: 's3cret\n',
      key: 's3cret\n',
    });
    expect(problems({ ...https, COSMO_DB_PATRONI_CA_FILE: secret })).toEqual([
      'COSMO_DB_PATRONI_CA_FILE, COSMO_DB_PATRONI_CERT_FILE, COSMO_DB_PATRONI_KEY_FILE go together: give all three or none',
    ]);
    expect(problems(https)[0]).toMatch(/^https Patroni URLs need COSMO_DB_PATRONI_CA_FILE/);
    expect(problems({ ...env, COSMO_DB_PATRONI_URLS: 'http://db1:8008', ...files })[0]).toMatch(
      /are for https Patroni URLs/,
    );
  });

  it('wants a CA for verified TLS and a stale limit above the heartbeat', () => {
    expect(
      problems({
        ...minimal(),
        COSMO_DB_SSLMODE: 'verify-full',
        COSMO_HEARTBEAT_SECONDS: '10',
        COSMO_HEARTBEAT_STALE_SECONDS: '5',
      }),
    ).toEqual([
      'COSMO_HEARTBEAT_STALE_SECONDS must be greater than COSMO_HEARTBEAT_SECONDS',
      "COSMO_DB_SSLMODE=verify-full needs COSMO_DB_CA_FILE (the server's CA certificate)",
    ]);
  });
});

describe('whose X-Forwarded-For is believed', () => {
  it('is nobody by default, and the load balancers named in COSMO_TRUST_PROXY', () => {
    expect(loadConfig(minimal()).trustProxy).toEqual([]);
    expect(loadConfig({ ...minimal(), COSMO_TRUST_PROXY: 'lb, lb2' }).trustProxy).toEqual(['lb', 'lb2']);
    expect(loadConfig({ ...minimal(), COSMO_TRUST_PROXY: 'false' }).trustProxy).toEqual([]);
  });

  it('refuses `true`, which would believe any peer (a client reaching a manager directly)', () => {
    expect(problems({ ...minimal(), COSMO_TRUST_PROXY: 'true' })).toEqual([
      'COSMO_TRUST_PROXY=true: name the load balancers whose X-Forwarded-For is trusted (e.g. lb), not every peer',
    ]);
    expect(problems({ ...minimal(), COSMO_TRUST_PROXY: 'lb;rm -rf' })).toEqual([
      "COSMO_TRUST_PROXY: 'lb;rm -rf' is not a host name or address",
    ]);
  });
});

describe('token lifetimes', () => {
  it('caps them at 30 days unless told, and refuses a default beyond the cap', () => {
    expect(loadConfig(minimal()).tokenMaxSeconds).toBe(30 * 86_400);
    expect(problems({ ...minimal(), COSMO_TOKEN_SECONDS: '7200', COSMO_TOKEN_MAX_SECONDS: '3600' })).toEqual([
      'COSMO_TOKEN_SECONDS must not be greater than COSMO_TOKEN_MAX_SECONDS',
    ]);
  });
});
