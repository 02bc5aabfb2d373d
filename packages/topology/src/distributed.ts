/**
 * The distributed cluster: database nodes (PostgreSQL + Patroni + etcd) `db1..N`, queue nodes
 * (RabbitMQ) `queue1..N`, managers behind a load balancer. Each stateful member is its own service,
 * named like its host name, with its own volume, pinned in Swarm by a node label (Swarm gives no
 * stable per-task names, so replicas could not name Patroni, etcd or RabbitMQ members). The
 * managers are stateless: one replicated service.
 */
import type { CosmoConfig } from './config.ts';
import {
  accessUrl,
  healthcheck,
  INSTANCE,
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

/** How long a stopping manager keeps serving while its /ok fails: the LB's 2 checks 500 ms apart, plus margin. */
const DRAIN_SECONDS = 3;

const names = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);

/** `bash -c '</dev/tcp/...'`: a TCP check that starts no Erlang VM (RabbitMQ's CLI costs a core). */
const tcpCheck = (port: number) => ['CMD', 'bash', '-c', `</dev/tcp/127.0.0.1/${port}`];

export function distributedPlan(config: CosmoConfig, version: string): Plan {
  const mode = config.modes.distributed;
  const local = config.images.registry === '';
  const image = (name: string) => imageRef(config, name, version);
  const labels = (role: string) => ({
    'io.cosmo.mode': 'distributed',
    'io.cosmo.project': config.name,
    'io.cosmo.role': role,
  });
  const secrets = (keys: SecretKey[]) => keys.map((key) => secretMount(config, key));
  const dbNodes = names('db', mode.db);
  const queueNodes = names('queue', mode.queue);

  const db: ServicePlan[] = dbNodes.map((node) => ({
    name: node,
    imageName: 'db',
    image: image('db'),
    localImage: local,
    hostname: node,
    environment: {
      COSMO_DB_NODE: node,
      COSMO_DB_PEERS: dbNodes.join(','),
      COSMO_DB_SCOPE: config.name,
      POSTGRES_PASSWORD_FILE: secretPath('db'),
      COSMO_DB_SUPERUSER_PASSWORD_FILE: secretPath('dbSuperuser'),
      COSMO_DB_REPLICATION_PASSWORD_FILE: secretPath('dbReplication'),
      COSMO_DB_REST_PASSWORD_FILE: secretPath('dbRest'),
    },
    secrets: secrets(['db', 'dbSuperuser', 'dbReplication', 'dbRest']),
    volumes: [{ volume: `${node}_data`, target: '/var/lib/cosmo' }],
    tmpfs: ['/run/cosmo-db'],
    ports: [],
    // Liveness, not readiness: etcd accepts connections. Swarm puts a task in its DNS only once the
    // task is healthy, and members must resolve each other to form etcd's quorum before Patroni (and
    // PostgreSQL) can be ready; readiness is what cluster-status reports.
    healthcheck: healthcheck(tcpCheck(2379), 60),
    // Patroni stops PostgreSQL (a fast shutdown) and hands the leader key over, then etcd stops.
    stopGracePeriodSeconds: 40,
    restart: 'unless-stopped',
    resources: { memory: '1g' },
    nodeLabel: `io.cosmo.${node}`,
    labels: labels('db'),
  }));

  const queue: ServicePlan[] = queueNodes.map((node) => ({
    name: node,
    imageName: 'rabbitmq',
    image: image('rabbitmq'),
    localImage: local,
    hostname: node,
    environment: {
      RABBITMQ_NODENAME: `rabbit@${node}`,
      RABBITMQ_CLUSTER_PEERS: queueNodes.join(','),
      RABBITMQ_PASSWORD_FILE: secretPath('mq'),
      RABBITMQ_ERLANG_COOKIE_FILE: secretPath('mqCookie'),
      // Flow control well below the container's memory limit (RabbitMQ would size it from the host's).
      RABBITMQ_MEMORY_HIGH_WATERMARK: '400MB',
    },
    secrets: secrets(['mq', 'mqCookie']),
    volumes: [{ volume: `${node}_data`, target: '/var/lib/rabbitmq' }],
    tmpfs: ['/run/rabbitmq-root'],
    ports: [],
    // Liveness: the Erlang distribution port (25672) opens as the VM boots, before peer discovery;
    // the AMQP port only once the node has joined its cluster, which needs its peers in DNS first.
    healthcheck: healthcheck(tcpCheck(25672), 60),
    stopGracePeriodSeconds: 40,
    restart: 'unless-stopped',
    resources: { memory: '1g' },
    nodeLabel: `io.cosmo.${node}`,
    labels: labels('queue'),
  }));

  const manager: ServicePlan = {
    name: 'manager',
    imageName: 'manager',
    image: image('manager'),
    localImage: local,
    hostname: INSTANCE,
    replicas: mode.managers,
    environment: {
      COSMO_NODE_NAME: INSTANCE,
      COSMO_DB_PATRONI_URLS: dbNodes.map((node) => `http://${node}:8008`).join(','),
      COSMO_DB_PASSWORD_FILE: secretPath('db'),
      COSMO_MQ_HOSTS: queueNodes.join(','),
      COSMO_MQ_QUEUE_TYPE: 'quorum',
      COSMO_MQ_PASSWORD_FILE: secretPath('mq'),
      COSMO_ADMIN_PASSWORD_FILE: secretPath('admin'),
      COSMO_DRAIN_SECONDS: String(DRAIN_SECONDS),
      // Requests come through the LB: the client's address is the X-Forwarded-For hop it adds.
      COSMO_TRUST_PROXY: 'true',
    },
    secrets: secrets(['db', 'mq', 'admin']),
    volumes: [],
    tmpfs: ['/run/cosmo'],
    ports: [],
    healthcheck: healthcheck(['CMD', '/usr/local/bin/cosmo-healthcheck'], 90),
    stopGracePeriodSeconds: DRAIN_SECONDS + 15,
    restart: 'unless-stopped',
    resources: { memory: '512m' },
    nodeLabel: 'io.cosmo.manager',
    labels: labels('manager'),
  };

  const lb: ServicePlan = {
    name: 'lb',
    imageName: 'lb',
    image: image('lb'),
    localImage: local,
    // Every manager answers to the name `manager` (compose: a network alias; Swarm: the dnsrr service).
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
    mode: 'distributed',
    services: [...db, ...queue, manager, lb],
    volumes: [...dbNodes, ...queueNodes].map((node) => `${node}_data`),
    secrets: secretPlans(config, SECRETS),
    access: {
      url: accessUrl(mode.bind, mode.port),
      adminUser: 'admin',
      adminPassword: { file: `${config.credentials.dir}/${SECRET_FILES.admin}` },
    },
  };
}
