/**
 * What the cluster modes (distributed, compact) give their members, whether each runs in a container
 * of its own (distributed) or all of a node's run in one (compact): the same secrets, the same
 * variables for a database member, a queue member and a manager, and the same load balancer.
 */
import type { CosmoConfig } from './config.ts';
import { externalDbEnv, externalQueueEnv, externalSecretMounts, externalSecretPlans } from './external.ts';
import type { ManagerEnv } from './manager-env.ts';
import {
  healthcheck,
  imageRef,
  publicAddress,
  type SecretKey,
  type SecretPlan,
  type ServicePlan,
  secretMount,
  secretPath,
  secretPlans,
} from './plan.ts';
import { apiNames, type TlsPlan, tlsPlan } from './tls.ts';

/** Every credential a cluster's own database members share. */
export const DB_SECRETS: readonly SecretKey[] = ['db', 'dbSuperuser', 'dbReplication', 'dbRest'];
/** Every credential a cluster's own queue members share. */
export const QUEUE_SECRETS: readonly SecretKey[] = ['mq', 'mqCookie'];

/**
 * The API's certificate and CA (the load balancers); the managers' certificate behind them, and the
 * CA they check the database and queue members against; the members' certificate (and the CA the
 * database members check each other against when they replicate).
 */
const LB_TLS: readonly SecretKey[] = ['apiCert', 'apiKey', 'ca'];
const MANAGER_TLS: readonly SecretKey[] = ['managerCert', 'managerKey'];
export const MEMBER_TLS: readonly SecretKey[] = ['memberCert', 'memberKey', 'ca'];
/** etcd's CA and the certificate only the database members hold (etcd lets in what its CA signed). */
export const ETCD_TLS: readonly SecretKey[] = ['etcdCert', 'etcdKey', 'etcdCa'];
export const tlsKeys = (config: CosmoConfig, keys: readonly SecretKey[]) => (config.tls ? keys : []);
/** Keys once each, in order (a compact node mounts the managers' and the members' sets). */
const unique = (keys: readonly SecretKey[]) => [...new Set(keys)];

/** Which services the cluster runs itself: not the external ones. */
export function ownServices(config: CosmoConfig): { db: boolean; queue: boolean } {
  return { db: !config.external?.db, queue: !config.external?.queue };
}

/**
 * The generated secrets a cluster uses: every one its own database and queue members share (or, for
 * a manager, only the passwords it logs in with), the admin's and the secrets key. An external
 * service has none here.
 */
function ownSecretKeys(config: CosmoConfig, who: 'members' | 'manager'): SecretKey[] {
  const own = ownServices(config);
  const db: readonly SecretKey[] = who === 'members' ? DB_SECRETS : ['db'];
  const queue: readonly SecretKey[] = who === 'members' ? QUEUE_SECRETS : ['mq'];
  return [...(own.db ? db : []), ...(own.queue ? queue : []), 'admin', 'secretsKey'];
}

/** The cluster's secrets: its own (generated) and the external services' files (the operator's). */
export function clusterSecretPlans(config: CosmoConfig): SecretPlan[] {
  return [
    ...secretPlans(
      config,
      unique([
        ...ownSecretKeys(config, 'members'),
        ...tlsKeys(config, [...LB_TLS, ...MANAGER_TLS, ...memberTls(config)]),
      ]),
    ),
    ...externalSecretPlans(config),
  ];
}

/** The members' certificate, when the cluster runs a database or queue of its own (and etcd's, with a database). */
function memberTls(config: CosmoConfig): readonly SecretKey[] {
  const own = ownServices(config);
  return [...(own.db || own.queue ? MEMBER_TLS : []), ...(own.db ? ETCD_TLS : [])];
}

/** The managers' certificate, and the CA they check their own database and queue members against. */
function managerTls(config: CosmoConfig): readonly SecretKey[] {
  const own = ownServices(config);
  return [...MANAGER_TLS, ...(own.db || own.queue ? (['ca'] as const) : [])];
}

/**
 * The certificates a cluster issues (TLS on): the API's for the load balancers, under every name
 * clients use; the managers' (`manager` and each one's own name) that the load balancers check; and
 * the members' (every database and queue member's host name), which the managers check.
 */
export function clusterTls(
  config: CosmoConfig,
  bind: string,
  managers: readonly string[],
  members: { db: readonly string[]; queue: readonly string[] },
): { tls?: TlsPlan } {
  if (!config.tls) return {};
  const all = [...new Set([...members.db, ...members.queue])];
  return { tls: tlsPlan(config, apiNames(config, bind, ['lb']), managers, all, members.db) };
}

/** Mounts of every secret of the cluster (a compact node runs every service, so needs them all). */
export function clusterSecretMounts(config: CosmoConfig): { name: string; target: string }[] {
  return [
    ...unique([
      ...ownSecretKeys(config, 'members'),
      ...tlsKeys(config, [...MANAGER_TLS, ...memberTls(config)]),
    ]).map((key) => secretMount(config, key)),
    ...externalSecretMounts(config),
  ];
}

/** What a manager mounts: its database and queue passwords (own or external), the admin's, a CA. */
export function managerSecretMounts(config: CosmoConfig): { name: string; target: string }[] {
  return [
    ...[...ownSecretKeys(config, 'manager'), ...tlsKeys(config, managerTls(config))].map((key) =>
      secretMount(config, key),
    ),
    ...externalSecretMounts(config),
  ];
}

/** How long a stopping manager keeps serving while its /ok fails: the LB's 2 checks 500 ms apart, plus margin. */
export const DRAIN_SECONDS = 3;

/** A database member (cosmo/db's variables): `node` is its name and host name, `peers` every member's. */
export function dbMemberEnv(
  config: CosmoConfig,
  node: string,
  peers: readonly string[],
): Record<string, string> {
  return {
    COSMO_DB_NODE: node,
    COSMO_DB_PEERS: peers.join(','),
    COSMO_DB_SCOPE: config.name,
    POSTGRES_PASSWORD_FILE: secretPath('db'),
    COSMO_DB_SUPERUSER_PASSWORD_FILE: secretPath('dbSuperuser'),
    COSMO_DB_REPLICATION_PASSWORD_FILE: secretPath('dbReplication'),
    COSMO_DB_REST_PASSWORD_FILE: secretPath('dbRest'),
    // With TLS: PostgreSQL takes TLS connections only (hostssl); replicas check the primary's
    // certificate (verify-full) against the CA and show the members' own, which superuser and
    // replication logins over the network need beside their password.
    ...(config.tls
      ? {
          COSMO_DB_TLS_CERT_FILE: secretPath('memberCert'),
          COSMO_DB_TLS_KEY_FILE: secretPath('memberKey'),
          COSMO_DB_TLS_CA_FILE: secretPath('ca'),
          // etcd: TLS between members and to its clients, each side showing a certificate of etcd's CA.
          COSMO_DB_ETCD_CERT_FILE: secretPath('etcdCert'),
          COSMO_DB_ETCD_KEY_FILE: secretPath('etcdKey'),
          COSMO_DB_ETCD_CA_FILE: secretPath('etcdCa'),
        }
      : {}),
  };
}

/** A queue member (cosmo/rabbitmq's variables). */
export function queueMemberEnv(
  config: CosmoConfig,
  node: string,
  peers: readonly string[],
): Record<string, string> {
  return {
    RABBITMQ_NODENAME: `rabbit@${node}`,
    RABBITMQ_CLUSTER_PEERS: peers.join(','),
    RABBITMQ_PASSWORD_FILE: secretPath('mq'),
    RABBITMQ_ERLANG_COOKIE_FILE: secretPath('mqCookie'),
    // Flow control well below the container's memory limit (RabbitMQ would size it from the host's).
    RABBITMQ_MEMORY_HIGH_WATERMARK: '400MB',
    // With TLS: AMQP over TLS only (5671), no plaintext listener; Erlang distribution over TLS,
    // members and CLI tools showing the members' certificate and checking it against the CA.
    ...(config.tls
      ? {
          RABBITMQ_TLS_CERT_FILE: secretPath('memberCert'),
          RABBITMQ_TLS_KEY_FILE: secretPath('memberKey'),
          RABBITMQ_TLS_CA_FILE: secretPath('ca'),
        }
      : {}),
  };
}

/**
 * A manager working against the whole cluster: every database member's Patroni, every broker; or
 * the external database and queue where the config names them.
 */
export function clusterManagerEnv(
  config: CosmoConfig,
  name: string,
  dbNodes: readonly string[],
  queueNodes: readonly string[],
  /** The address the load balancers publish the API on (the mode's `bind`). */
  bind: string,
): ManagerEnv {
  const { db, queue } = config.external ?? {};
  return {
    COSMO_NODE_NAME: name,
    // Every manager is reached through the load balancers, at their public address.
    COSMO_PUBLIC_IP: publicAddress(config, bind),
    ...(db
      ? externalDbEnv(db)
      : {
          COSMO_DB_PATRONI_URLS: dbNodes
            .map((node) => `${config.tls ? 'https' : 'http'}://${node}:8008`)
            .join(','),
          COSMO_DB_PASSWORD_FILE: secretPath('db'),
          // The primary Patroni names is reached by its host name, which the members' certificate
          // carries; Patroni asks each client for a certificate of the platform's CA: the manager's.
          ...(config.tls
            ? {
                COSMO_DB_SSLMODE: 'verify-full',
                COSMO_DB_CA_FILE: secretPath('ca'),
                COSMO_DB_PATRONI_CA_FILE: secretPath('ca'),
                COSMO_DB_PATRONI_CERT_FILE: secretPath('managerCert'),
                COSMO_DB_PATRONI_KEY_FILE: secretPath('managerKey'),
              }
            : {}),
        }),
    ...(queue
      ? externalQueueEnv(queue)
      : {
          COSMO_MQ_HOSTS: queueNodes.join(','),
          COSMO_MQ_PASSWORD_FILE: secretPath('mq'),
          ...(config.tls ? { COSMO_MQ_TLS: 'true', COSMO_MQ_CA_FILE: secretPath('ca') } : {}),
        }),
    // Quorum queues: replicated on a cluster's brokers, and on a hosted RabbitMQ (3.8 and later).
    COSMO_MQ_QUEUE_TYPE: 'quorum',
    COSMO_ADMIN_PASSWORD_FILE: secretPath('admin'),
    COSMO_SECRETS_KEY_FILE: secretPath('secretsKey'),
    // HTTPS between the load balancers and the managers: they check this certificate's `manager` name.
    ...(config.tls
      ? {
          COSMO_HTTP_TLS_CERT_FILE: secretPath('managerCert'),
          COSMO_HTTP_TLS_KEY_FILE: secretPath('managerKey'),
        }
      : {}),
    COSMO_DRAIN_SECONDS: String(DRAIN_SECONDS),
    // Requests come through the LB: the client's address is the X-Forwarded-For hop it adds, believed
    // only from the LB's own addresses (what `lb` resolves to), never from a client reaching a manager.
    COSMO_TRUST_PROXY: 'lb',
  };
}

/** The load balancer publishing the API; every manager answers to `manager` on the network. */
export function loadBalancer(
  config: CosmoConfig,
  version: string,
  published: { port: number; bind: string },
  labels: Record<string, string>,
): ServicePlan {
  return {
    name: 'lb',
    imageName: 'lb',
    image: imageRef(config, 'lb', version),
    localImage: config.images.registry === '',
    everyNode: true,
    // With TLS: HTTPS to clients with the API's certificate, and HTTPS to the managers, checked
    // against the CA under the name `manager`.
    environment: {
      COSMO_LB_MANAGERS: 'manager',
      ...(config.tls
        ? {
            COSMO_LB_CERT_FILE: secretPath('apiCert'),
            COSMO_LB_KEY_FILE: secretPath('apiKey'),
            COSMO_LB_CA_FILE: secretPath('ca'),
          }
        : {}),
    },
    secrets: tlsKeys(config, LB_TLS).map((key) => secretMount(config, key)),
    volumes: [],
    // Its private copy of the certificate and key (HAProxy reads them as its own user).
    tmpfs: ['/run/cosmo-lb'],
    ports: [{ host: published.bind, published: published.port, target: 8080 }],
    healthcheck: healthcheck(['CMD', '/usr/local/bin/cosmo-lb-healthcheck'], 90),
    stopGracePeriodSeconds: 10,
    restart: 'unless-stopped',
    resources: { memory: '256m' },
    nodeLabel: 'io.cosmo.lb',
    labels,
  };
}
