/**
 * The distributed cluster: database nodes (PostgreSQL + Patroni + etcd) `db1..N`, queue nodes
 * (RabbitMQ) `queue1..N`, managers behind a load balancer. Each stateful member is its own service,
 * named like its host name, with its own volume, pinned in Swarm by a node label (Swarm gives no
 * stable per-task names, so replicas could not name Patroni, etcd or RabbitMQ members). The
 * managers are stateless: one replicated service.
 */
import type { CosmoConfig } from './config.ts';
import {
  clusterManagerEnv,
  clusterSecretPlans,
  clusterTls,
  DRAIN_SECONDS,
  dbMemberEnv,
  ETCD_TLS,
  loadBalancer,
  MEMBER_TLS,
  managerSecretMounts,
  ownServices,
  queueMemberEnv,
  tlsKeys,
} from './members.ts';
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
} from './plan.ts';

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
  // An external database or queue has no members here: the managers connect to it instead.
  const own = ownServices(config);
  const dbNodes = own.db ? names('db', mode.db) : [];
  const queueNodes = own.queue ? names('queue', mode.queue) : [];

  const db: ServicePlan[] = dbNodes.map((node) => ({
    name: node,
    imageName: 'db',
    image: image('db'),
    localImage: local,
    hostname: node,
    environment: dbMemberEnv(config, node, dbNodes),
    secrets: secrets([
      'db',
      'dbSuperuser',
      'dbReplication',
      'dbRest',
      ...tlsKeys(config, [...MEMBER_TLS, ...ETCD_TLS]),
    ]),
    volumes: [{ volume: `${node}_data`, target: '/var/lib/cosmo' }],
    tmpfs: ['/run/cosmo-db', '/run/cosmo-etcd'],
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
    environment: queueMemberEnv(config, node, queueNodes),
    secrets: secrets(['mq', 'mqCookie', ...tlsKeys(config, MEMBER_TLS)]),
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
    environment: clusterManagerEnv(config, INSTANCE, dbNodes, queueNodes, mode.bind),
    secrets: managerSecretMounts(config),
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

  const lb = loadBalancer(config, version, mode, labels('lb'));

  return {
    name: config.name,
    mode: 'distributed',
    services: [...db, ...queue, manager, lb],
    volumes: [...dbNodes, ...queueNodes].map((node) => `${node}_data`),
    secrets: clusterSecretPlans(config),
    ...clusterTls(config, mode.bind, names('manager', mode.managers), { db: dbNodes, queue: queueNodes }),
    access: {
      url: accessUrl(config, mode.bind, mode.port),
      ...(config.tls ? { ca: { file: `${config.credentials.dir}/${SECRET_FILES.ca}` } } : {}),
      adminUser: 'admin',
      adminPassword: { file: `${config.credentials.dir}/${SECRET_FILES.admin}` },
    },
  };
}
