/**
 * `cosmo init --external-db URL --external-queue URL`: the URLs an operator already has for a managed
 * PostgreSQL or RabbitMQ, turned into cosmo.yaml's `external` section. Passwords never go in a URL
 * or in cosmo.yaml: each service's password is a file the operator writes (one line).
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from './errors.ts';
import type { Project } from './project.ts';

export const EXTERNAL_PASSWORD_FILES = {
  db: 'secrets/external_db_password',
  queue: 'secrets/external_queue_password',
} as const;

const DB_URL = 'postgresql://USER@HOST[:PORT]/DATABASE[?sslmode=MODE&sslrootcert=CA.pem]';
const QUEUE_URL = 'amqp[s]://USER@HOST[:PORT][,HOST[:PORT]...][/VHOST][?cacertfile=CA.pem]';

function refuse(flag: string, value: string, why: string, form: string): never {
  throw new UsageError(`${flag} ${value}: ${why}; use ${form} (the password goes in a file, not the URL)`);
}

/** `postgresql://user@host:port/database?sslmode=…&sslrootcert=…` (libpq's names) → external.db. */
export function externalDbFromUrl(value: string): Record<string, unknown> {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    refuse('--external-db', value, 'not a URL', DB_URL);
  }
  if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:')
    refuse('--external-db', value, `scheme ${url.protocol} is not postgresql:`, DB_URL);
  if (url.password) refuse('--external-db', value, 'it holds a password', DB_URL);
  if (!url.hostname) refuse('--external-db', value, 'it names no host', DB_URL);
  const known = ['sslmode', 'sslrootcert'];
  for (const key of url.searchParams.keys()) {
    if (!known.includes(key)) refuse('--external-db', value, `unknown parameter ${key}`, DB_URL);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  const sslmode = url.searchParams.get('sslmode');
  const ca = url.searchParams.get('sslrootcert');
  return {
    host: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    ...(database ? { database } : {}),
    ...(url.username ? { user: decodeURIComponent(url.username) } : {}),
    password_file: EXTERNAL_PASSWORD_FILES.db,
    ...(sslmode ? { sslmode } : {}),
    ...(ca ? { ca_file: ca } : {}),
  };
}

/** `amqps://user@host1:5671,host2:5671/vhost?cacertfile=…` → external.queue (several hosts allowed). */
export function externalQueueFromUrl(value: string): Record<string, unknown> {
  const match = /^(amqps?):\/\/(?:([^@/:]+)@)?([^/?@]+)(?:\/([^?]*))?(?:\?(.*))?$/.exec(value);
  if (!match) {
    if (/^amqps?:\/\/[^@/]*:[^@/]*@/.test(value))
      refuse('--external-queue', value, 'it holds a password', QUEUE_URL);
    refuse('--external-queue', value, 'not an amqp:// or amqps:// URL', QUEUE_URL);
  }
  const [, scheme, user, hosts, vhost, query] = match;
  const params = new URLSearchParams(query ?? '');
  for (const key of params.keys()) {
    if (key !== 'cacertfile') refuse('--external-queue', value, `unknown parameter ${key}`, QUEUE_URL);
  }
  const ca = params.get('cacertfile');
  if (ca && scheme !== 'amqps') refuse('--external-queue', value, 'cacertfile needs amqps://', QUEUE_URL);
  return {
    hosts: hosts!.split(',').filter(Boolean),
    ...(user ? { user: decodeURIComponent(user) } : {}),
    password_file: EXTERNAL_PASSWORD_FILES.queue,
    ...(vhost ? { vhost: decodeURIComponent(vhost) } : {}),
    tls: scheme === 'amqps',
    ...(ca ? { ca_file: ca } : {}),
  };
}

/**
 * The files the operator supplies (external services' passwords and CAs) that are missing or empty,
 * each named with what goes in it. `cosmo up` and `cosmo deploy` refuse to start without them.
 */
export function missingProvidedFiles(project: Project): string[] {
  return project.plan.secrets
    .filter((secret) => secret.provided)
    .map((secret) => path.resolve(project.configDir, secret.file))
    .filter((file) => !existsSync(file) || statSync(file).size === 0);
}

export function checkProvidedFiles(project: Project): void {
  const missing = missingProvidedFiles(project);
  if (missing.length === 0) return;
  throw new UsageError(
    `${missing.join(', ')}: missing or empty. cosmo.yaml's external section names these files: write ` +
      "each external service's password (one line) or CA certificate (PEM) in them, then run this again",
  );
}
