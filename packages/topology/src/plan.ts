/**
 * The plan: the services, images, environment, volumes, secrets, health checks and ports of a mode,
 * and the helpers every mode's planner shares. A mode is data here (the services it lists), so each
 * emitter (compose, swarm) just renders a plan and never asks which mode it is.
 */
import type { CosmoConfig, Mode } from './config.ts';
import type { TlsPlan } from './tls.ts';

export interface SecretPlan {
  /** Name in the emitted file. */
  name: string;
  /** File holding the secret, relative to the folder of cosmo.yaml. */
  file: string;
  /** The operator supplies this file (an external service's password or CA): never generated. */
  provided?: boolean;
  /** A certificate or its key: issued from the CA (see `Plan.tls`), not a random password. */
  certificate?: boolean;
}

/** In an environment value or host name: the instance's name (`manager2`), filled in by each emitter. */
export const INSTANCE = '{{instance}}';

export interface ServicePlan {
  name: string;
  /** The catalogue image it runs (`db`), and its full reference. */
  imageName: string;
  image: string;
  /** The image exists only in the local engine: never pull it. */
  localImage: boolean;
  /** Host name in the container; stateful members are known by it (etcd, Patroni, RabbitMQ). */
  hostname?: string;
  /**
   * Identical stateless instances: compose emits `<name>1..N` that all answer to `<name>` on the
   * network, Swarm one service with N replicas whose DNS name `<name>` lists every task.
   */
  replicas?: number;
  /**
   * Swarm: one task on every node that has its label (global mode) instead of a number of replicas:
   * the load balancer, so that losing a host leaves the others' published ports answering.
   */
  everyNode?: boolean;
  /** Other names it answers to on the network (compact nodes: `manager`, for the load balancer). */
  aliases?: string[];
  environment: Record<string, string>;
  secrets: { name: string; target: string }[];
  volumes: { volume: string; target: string }[];
  /** In-memory folders (copies of secrets, never in the container's writable layer). */
  tmpfs: string[];
  ports: { host: string; published: number; target: number }[];
  healthcheck: {
    test: string[];
    intervalSeconds: number;
    timeoutSeconds: number;
    retries: number;
    startPeriodSeconds: number;
  };
  stopGracePeriodSeconds: number;
  restart: 'unless-stopped' | 'on-failure' | 'always';
  resources: { cpus?: number; memory?: string };
  /** Swarm: the node label that must be `true` on the node this service runs on. */
  nodeLabel?: string;
  labels: Record<string, string>;
  /**
   * Least privilege: every capability dropped but these (what its image's entrypoint needs), no new
   * privileges through setuid binaries, and at most this many processes. Filled from
   * IMAGE_PRIVILEGES by the planner, for every mode alike.
   */
  privileges?: ImagePrivileges;
}

export interface ImagePrivileges {
  capabilities: string[];
  pidsLimit: number;
}

/**
 * What each image's entrypoint needs, as root, before it hands its services to their own users:
 * CHOWN and FOWNER to give them their folders and private copies of secrets, DAC_OVERRIDE to read
 * the operator's 0600 secret files (owned by whoever wrote them), SETUID/SETGID to become those users
 * (the manager keeps them, with KILL, to run and end each operation's script as a user of its own,
 * and those scripts start with none). Where scripts run, NET_ADMIN sets the rules that close the
 * platform's back ends to them, and SETPCAP drops both from the bounding set before any service
 * starts (cosmo-script-egress). The load balancer runs as haproxy from the start: nothing.
 */
const SCRIPT_RUNNER = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID', 'KILL', 'NET_ADMIN', 'SETPCAP'];
export const IMAGE_PRIVILEGES: Record<string, ImagePrivileges> = {
  aio: { capabilities: [...SCRIPT_RUNNER], pidsLimit: 4096 },
  node: { capabilities: [...SCRIPT_RUNNER], pidsLimit: 4096 },
  manager: { capabilities: [...SCRIPT_RUNNER], pidsLimit: 2048 },
  db: { capabilities: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID', 'KILL'], pidsLimit: 1024 },
  rabbitmq: {
    capabilities: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID', 'KILL'],
    pidsLimit: 1024,
  },
  lb: { capabilities: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID'], pidsLimit: 256 },
};

export interface Plan {
  name: string;
  mode: Mode;
  services: ServicePlan[];
  volumes: string[];
  secrets: SecretPlan[];
  /** The certificates to issue from the CA; none when TLS is off or the container issues its own. */
  tls?: TlsPlan;
  /** How to reach the manager's API once up, and who the first user is. */
  access: {
    /** https:// unless TLS is off. */
    url: string;
    /** The CA the API's certificate is checked against (https only). */
    ca?: InFolderOrVolume;
    adminUser: string;
    adminPassword: InFolderOrVolume;
  };
}

/** A file in the project's folder, or one the container generated in its volume. */
export type InFolderOrVolume = { file: string } | { inVolume: string; service: string };

/** Every secret a mode may use, by its file name in the credentials folder. */
export const SECRET_FILES = {
  db: 'db_password',
  dbSuperuser: 'db_superuser_password',
  dbReplication: 'db_replication_password',
  dbRest: 'db_rest_password',
  mq: 'mq_password',
  mqCookie: 'mq_erlang_cookie',
  admin: 'admin_password',
  /** What the managers seal stored secrets with (never in the database). */
  secretsKey: 'secrets_key',
  ca: 'ca.crt',
  apiCert: 'api.crt',
  apiKey: 'api.key',
  managerCert: 'manager.crt',
  managerKey: 'manager.key',
  memberCert: 'member.crt',
  memberKey: 'member.key',
  etcdCa: 'etcd-ca.crt',
  etcdCert: 'etcd.crt',
  etcdKey: 'etcd.key',
} as const;
export type SecretKey = keyof typeof SECRET_FILES;
/** The secrets issued from the CA rather than drawn at random. */
export const CERTIFICATE_KEYS: readonly SecretKey[] = [
  'ca',
  'apiCert',
  'apiKey',
  'managerCert',
  'managerKey',
  'memberCert',
  'memberKey',
  'etcdCa',
  'etcdCert',
  'etcdKey',
];

export function imageRef(config: CosmoConfig, image: string, version: string): string {
  const repo = `${config.images.prefix}/${image}`;
  return `${config.images.registry ? `${config.images.registry}/` : ''}${repo}:${config.images.tag ?? version}`;
}

/** The secrets of a mode as files in the credentials folder, named `<project>_<file>` in emitted files. */
export function secretPlans(config: CosmoConfig, keys: readonly SecretKey[]): SecretPlan[] {
  return keys.map((key) => ({
    name: `${config.name}_${SECRET_FILES[key]}`,
    file: `${config.credentials.dir}/${SECRET_FILES[key]}`,
    ...(CERTIFICATE_KEYS.includes(key) ? { certificate: true } : {}),
  }));
}

/** A service's mount of a secret: at /run/secrets/<file name>. */
export function secretMount(config: CosmoConfig, key: SecretKey): { name: string; target: string } {
  return { name: `${config.name}_${SECRET_FILES[key]}`, target: SECRET_FILES[key] };
}

export const secretPath = (key: SecretKey) => `/run/secrets/${SECRET_FILES[key]}`;

/** A Docker health check probed every 5 s (3 s timeout, 3 failures), after a start period. */
export function healthcheck(test: string[], startPeriodSeconds: number): ServicePlan['healthcheck'] {
  return { test, intervalSeconds: 5, timeoutSeconds: 3, retries: 3, startPeriodSeconds };
}

/** What /managers reports as each manager's public address: see `publicNames` in cosmo.yaml. */
export function publicAddress(config: CosmoConfig, bind: string): string {
  return config.publicNames[0] ?? (bind === '0.0.0.0' ? 'localhost' : bind);
}

export function accessUrl(config: CosmoConfig, bind: string, port: number): string {
  return `${config.tls ? 'https' : 'http'}://${bind === '0.0.0.0' ? 'localhost' : bind}:${port}`;
}
