/**
 * The compact cluster: 3 nodes `node1..3`, each one container (cosmo/node) running a database
 * member (PostgreSQL + Patroni + etcd), a queue member (RabbitMQ) and a manager, plus the load
 * balancer. Each node is its own service, named like its host name, with its own volume, pinned in
 * Swarm by a node label, exactly as the distributed mode's stateful members are. Each node's manager
 * works against the whole cluster (Patroni's primary, every broker), not only its own node's
 * services, and every node answers to `manager` for the load balancer.
 */
import type { CosmoConfig } from './config.ts';
import { CLUSTER_SECRETS, clusterManagerEnv, dbMemberEnv, loadBalancer, queueMemberEnv } from './members.ts';
import {
  accessUrl,
  healthcheck,
  imageRef,
  type Plan,
  SECRET_FILES,
  type ServicePlan,
  secretMount,
  secretPlans,
} from './plan.ts';

const NODES = ['node1', 'node2', 'node3'];

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
    // A database member, a queue member and a manager, each with the variables of its own image.
    environment: {
      ...dbMemberEnv(config, node, NODES),
      ...queueMemberEnv(node, NODES),
      ...clusterManagerEnv(node, NODES, NODES),
    },
    secrets: CLUSTER_SECRETS.map((key) => secretMount(config, key)),
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

  const lb = loadBalancer(config, version, mode, labels('lb'));

  return {
    name: config.name,
    mode: 'compact',
    services: [...nodes, lb],
    volumes: NODES.map((node) => `${node}_data`),
    secrets: secretPlans(config, CLUSTER_SECRETS),
    access: {
      url: accessUrl(mode.bind, mode.port),
      adminUser: 'admin',
      adminPassword: { file: `${config.credentials.dir}/${SECRET_FILES.admin}` },
    },
  };
}
