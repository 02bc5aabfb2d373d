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
  clusterManagerEnv,
  clusterSecretMounts,
  clusterSecretPlans,
  clusterTls,
  dbMemberEnv,
  loadBalancer,
  ownServices,
  queueMemberEnv,
} from './members.ts';
import { accessUrl, healthcheck, imageRef, type Plan, SECRET_FILES, type ServicePlan } from './plan.ts';

const NODES = ['node1', 'node2', 'node3'];

export function compactPlan(config: CosmoConfig, version: string): Plan {
  const mode = config.modes.compact;
  const local = config.images.registry === '';
  const labels = (role: string) => ({
    'io.cosmo.mode': 'compact',
    'io.cosmo.project': config.name,
    'io.cosmo.role': role,
  });

  // What each node runs: the services the cluster does not take from outside, in this order (the
  // first one's liveness is the node's health check: members must find each other before anything
  // is ready, so readiness is cluster-status's, not Docker's).
  const own = ownServices(config);
  const services = [
    {
      name: 'db',
      runs: own.db,
      environment: (node: string) => dbMemberEnv(config, node, NODES),
      tmpfs: ['/run/cosmo-db', '/run/cosmo-etcd'],
      liveness: ['CMD', 'bash', '-c', '</dev/tcp/127.0.0.1/2379'],
    },
    {
      name: 'rabbitmq',
      runs: own.queue,
      environment: (node: string) => queueMemberEnv(config, node, NODES),
      tmpfs: ['/run/rabbitmq-root'],
      liveness: ['CMD', 'bash', '-c', '</dev/tcp/127.0.0.1/25672'],
    },
    {
      name: 'manager',
      runs: true,
      environment: (node: string) =>
        clusterManagerEnv(config, node, own.db ? NODES : [], own.queue ? NODES : [], mode.bind),
      tmpfs: ['/run/cosmo'],
      liveness: ['CMD', '/usr/local/bin/cosmo-healthcheck'],
    },
  ].filter((service) => service.runs);

  const nodes: ServicePlan[] = NODES.map((node) => ({
    name: node,
    imageName: 'node',
    image: imageRef(config, 'node', version),
    localImage: local,
    hostname: node,
    aliases: ['manager'],
    // Each service with the variables of its own image; COSMO_SERVICES says which run here.
    environment: Object.assign(
      {},
      ...services.map((service) => service.environment(node)),
      own.db && own.queue ? {} : { COSMO_SERVICES: services.map((service) => service.name).join(',') },
    ),
    secrets: clusterSecretMounts(config),
    volumes: [{ volume: `${node}_data`, target: '/var/lib/cosmo' }],
    tmpfs: services.flatMap((service) => service.tmpfs),
    ports: [],
    healthcheck: healthcheck(services[0]!.liveness, 60),
    // The manager (drain + 15 s), RabbitMQ (30 s) and the database member (40 s) stop in turn.
    stopGracePeriodSeconds: 95,
    restart: 'unless-stopped',
    resources: { memory: '2g' },
    nodeLabel: `io.cosmo.${node}`,
    labels: labels('node'),
  }));

  const lb = loadBalancer(config, version, mode, labels('lb'));

  return {
    name: config.name,
    mode: 'compact',
    services: [...nodes, lb],
    volumes: NODES.map((node) => `${node}_data`),
    secrets: clusterSecretPlans(config),
    ...clusterTls(config, mode.bind, NODES, { db: own.db ? NODES : [], queue: own.queue ? NODES : [] }),
    access: {
      url: accessUrl(config, mode.bind, mode.port),
      ...(config.tls ? { ca: { file: `${config.credentials.dir}/${SECRET_FILES.ca}` } } : {}),
      adminUser: 'admin',
      adminPassword: { file: `${config.credentials.dir}/${SECRET_FILES.admin}` },
    },
  };
}
