/**
 * The compact cluster: 3 nodes `node1..3`, each one container (cosmo/node) running a database
 * member (PostgreSQL + Patroni + etcd), a queue member (RabbitMQ) and a manager, plus the load
 * balancer. Each node is its own service, named like its host name, with its own volume, pinned in
 * Swarm by a node label, exactly as the distributed mode's stateful members are. Each node's manager
 * works against the whole cluster (Patroni's primary, every broker), not only its own node's
 * services, and every node answers to `manager` for the load balancer.
 */
import type { CosmoConfig } from './config.ts';
import {
  accessUrl,
  healthcheck,
  imageRef,
  type Plan,
  SECRET_FILES,
  type SecretKey,
  type ServicePlan,
  secretMount,
  secretPath,
  secretPlans,
} from './plan.ts';

const SECRETS: readonly SecretKey[] = [
  'db',
  'dbSuperuser',
  'dbReplication',
  'dbRest',
  'mq',
  'mqCookie',
  'admin',
];
const NODES = ['node1', 'node2', 'node3'];
/** As in the distributed mode: the LB's 2 checks 500 ms apart, plus margin. */
const DRAIN_SECONDS = 3;

export function compactPlan(config: CosmoConfig, version: string): Plan {
  const mode = config.modes.compact;
  const local = config.images.registry === '';
  const labels = (role: string) => ({
    'io.cosmo.mode': 'compact',
    'io.cosmo.project': config.name,
    'io.cosmo.role': role,
  });

  const nodes: ServicePlan[] = NODES.map((node) => ({
    name: node,
    imageName: 'node',
    image: imageRef(config, 'node', version),
    localImage: local,
    hostname: node,
    aliases: ['manager'],
    environment: {
      // The database member (cosmo/db's variables).
      COSMO_DB_NODE: node,
      COSMO_DB_PEERS: NODES.join(','),
      COSMO_DB_SCOPE: config.name,
      POSTGRES_PASSWORD_FILE: secretPath('db'),
      COSMO_DB_SUPERUSER_PASSWORD_FILE: secretPath('dbSuperuser'),
      COSMO_DB_REPLICATION_PASSWORD_FILE: secretPath('dbReplication'),
      COSMO_DB_REST_PASSWORD_FILE: secretPath('dbRest'),
      // The queue member (cosmo/rabbitmq's).
      RABBITMQ_NODENAME: `rabbit@${node}`,
      RABBITMQ_CLUSTER_PEERS: NODES.join(','),
      RABBITMQ_PASSWORD_FILE: secretPath('mq'),
      RABBITMQ_ERLANG_COOKIE_FILE: secretPath('mqCookie'),
      RABBITMQ_MEMORY_HIGH_WATERMARK: '400MB',
      // The manager (cosmo/manager's), against the whole cluster.
      COSMO_NODE_NAME: node,
      COSMO_DB_PATRONI_URLS: NODES.map((n) => `http://${n}:8008`).join(','),
      COSMO_DB_PASSWORD_FILE: secretPath('db'),
      COSMO_MQ_HOSTS: NODES.join(','),
      COSMO_MQ_QUEUE_TYPE: 'quorum',
      COSMO_MQ_PASSWORD_FILE: secretPath('mq'),
      COSMO_ADMIN_PASSWORD_FILE: secretPath('admin'),
      COSMO_DRAIN_SECONDS: String(DRAIN_SECONDS),
      COSMO_TRUST_PROXY: 'true',
    },
    secrets: SECRETS.map((key) => secretMount(config, key)),
    volumes: [{ volume: `${node}_data`, target: '/var/lib/cosmo' }],
    tmpfs: ['/run/cosmo', '/run/cosmo-db', '/run/rabbitmq-root'],
    ports: [],
    healthcheck: healthcheck(['CMD', 'bash', '-c', '</dev/tcp/127.0.0.1/2379'], 60),
    // The manager (drain + 15 s), RabbitMQ (30 s) and the database member (40 s) stop in turn.
    stopGracePeriodSeconds: 95,
    restart: 'unless-stopped',
    resources: { memory: '2g' },
    nodeLabel: `io.cosmo.${node}`,
    labels: labels('node'),
  }));

  const lb: ServicePlan = {
    name: 'lb',
    imageName: 'lb',
    image: imageRef(config, 'lb', version),
    localImage: local,
    environment: { COSMO_LB_MANAGERS: 'manager' },
    secrets: [],
    volumes: [],
    tmpfs: [],
    ports: [{ host: mode.bind, published: mode.port, target: 8080 }],
    healthcheck: healthcheck(['CMD', '/usr/local/bin/cosmo-lb-healthcheck'], 90),
    stopGracePeriodSeconds: 10,
    restart: 'unless-stopped',
    resources: { memory: '256m' },
    nodeLabel: 'io.cosmo.lb',
    labels: labels('lb'),
  };

  return {
    name: config.name,
    mode: 'compact',
    services: [...nodes, lb],
    volumes: NODES.map((node) => `${node}_data`),
    secrets: secretPlans(config, SECRETS),
    access: {
      url: accessUrl(mode.bind, mode.port),
      adminUser: 'admin',
      adminPassword: { file: `${config.credentials.dir}/${SECRET_FILES.admin}` },
    },
  };
}
