/**
 * External services: a database or queue the platform uses but does not run (a managed PostgreSQL,
 * a hosted RabbitMQ). The cluster planners then emit no members for it, and the managers get its
 * address, credentials and CA from here. Its password and CA are files the operator supplies, passed
 * to the managers as secrets like every other credential.
 */
import type { CosmoConfig } from './config.ts';
import type { ManagerEnv } from './manager-env.ts';
import type { SecretPlan } from './plan.ts';

/** Each external file's name under /run/secrets in the managers' containers. */
const TARGETS = {
  dbPassword: 'external_db_password',
  dbCa: 'external_db_ca.pem',
  queuePassword: 'external_queue_password',
  queueCa: 'external_queue_ca.pem',
} as const;
type ExternalFile = keyof typeof TARGETS;

const targetPath = (key: ExternalFile) => `/run/secrets/${TARGETS[key]}`;

/** The operator's files (relative to cosmo.yaml) behind each external secret the config names. */
function files(config: CosmoConfig): [ExternalFile, string][] {
  const { db, queue } = config.external ?? {};
  const all: [ExternalFile, string | undefined][] = [
    ['dbPassword', db?.password_file],
    ['dbCa', db?.ca_file],
    ['queuePassword', queue?.password_file],
    ['queueCa', queue?.ca_file],
  ];
  return all.filter((entry): entry is [ExternalFile, string] => entry[1] !== undefined);
}

/** The external services' secrets: supplied by the operator, never generated. */
export function externalSecretPlans(config: CosmoConfig): SecretPlan[] {
  return files(config).map(([key, file]) => ({
    name: `${config.name}_${TARGETS[key]}`,
    file,
    provided: true,
  }));
}

/** The managers' mounts of the external secrets. */
export function externalSecretMounts(config: CosmoConfig): { name: string; target: string }[] {
  return files(config).map(([key]) => ({ name: `${config.name}_${TARGETS[key]}`, target: TARGETS[key] }));
}

/** The manager's variables for an external database (cosmo/manager's COSMO_DB_*). */
export function externalDbEnv(db: NonNullable<NonNullable<CosmoConfig['external']>['db']>): ManagerEnv {
  return {
    COSMO_DB_HOST: db.host,
    COSMO_DB_PORT: String(db.port),
    COSMO_DB_NAME: db.database,
    COSMO_DB_USER: db.user,
    COSMO_DB_PASSWORD_FILE: targetPath('dbPassword'),
    COSMO_DB_SSLMODE: db.sslmode,
    ...(db.ca_file ? { COSMO_DB_CA_FILE: targetPath('dbCa') } : {}),
    COSMO_DB_EXTERNAL: 'true',
  };
}

/** The manager's variables for an external queue (cosmo/manager's COSMO_MQ_*). */
export function externalQueueEnv(
  queue: NonNullable<NonNullable<CosmoConfig['external']>['queue']>,
): ManagerEnv {
  return {
    COSMO_MQ_HOSTS: queue.hosts.join(','),
    COSMO_MQ_USER: queue.user,
    COSMO_MQ_PASSWORD_FILE: targetPath('queuePassword'),
    COSMO_MQ_VHOST: queue.vhost,
    COSMO_MQ_TLS: String(queue.tls),
    ...(queue.ca_file ? { COSMO_MQ_CA_FILE: targetPath('queueCa') } : {}),
    COSMO_MQ_EXTERNAL: 'true',
  };
}
