/**
 * config -> plan: the services, images, environment, volumes, secrets, health checks and ports of
 * a mode. A mode is data here (the services it lists), so each emitter (compose, swarm) just
 * renders a plan and never asks which mode it is.
 */
import type { CosmoConfig, Mode } from './config.ts';

export interface SecretPlan {
  /** Name in the emitted file. */
  name: string;
  /** File holding the secret, relative to the folder of cosmo.yaml. */
  file: string;
}

export interface ServicePlan {
  name: string;
  image: string;
  /** The image exists only in the local engine: never pull it. */
  localImage: boolean;
  environment: Record<string, string>;
  secrets: { name: string; target: string }[];
  volumes: { volume: string; target: string }[];
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
  labels: Record<string, string>;
}

export interface Plan {
  name: string;
  mode: Mode;
  services: ServicePlan[];
  volumes: string[];
  secrets: SecretPlan[];
  /** How to reach the manager's API once up, and who the first user is. */
  access: {
    url: string;
    adminUser: string;
    adminPassword: { file: string } | { inVolume: string; service: string };
  };
}

export const SECRET_FILES = { db: 'db_password', mq: 'mq_password', admin: 'admin_password' } as const;

export function imageRef(config: CosmoConfig, image: string, version: string): string {
  const repo = `${config.images.prefix}/${image}`;
  return `${config.images.registry ? `${config.images.registry}/` : ''}${repo}:${config.images.tag ?? version}`;
}

function aioPlan(config: CosmoConfig, version: string): Plan {
  const aio = config.modes.aio;
  const files = config.credentials.source === 'files';
  const secrets: SecretPlan[] = files
    ? Object.values(SECRET_FILES).map((name) => ({
        name: `${config.name}_${name}`,
        file: `${config.credentials.dir}/${name}`,
      }))
    : [];
  const environment: Record<string, string> = files
    ? {
        COSMO_ADMIN_PASSWORD_FILE: `/run/secrets/${SECRET_FILES.admin}`,
        COSMO_DB_PASSWORD_FILE: `/run/secrets/${SECRET_FILES.db}`,
        COSMO_MQ_PASSWORD_FILE: `/run/secrets/${SECRET_FILES.mq}`,
      }
    : {};
  // Compose prefixes volumes with the project name: cosmo_data.
  const volume = 'data';
  return {
    name: config.name,
    mode: 'aio',
    services: [
      {
        name: 'aio',
        image: imageRef(config, 'aio', version),
        localImage: config.images.registry === '',
        environment,
        secrets: files
          ? Object.values(SECRET_FILES).map((name) => ({ name: `${config.name}_${name}`, target: name }))
          : [],
        volumes: [{ volume, target: '/var/lib/cosmo' }],
        ports: [{ host: aio.bind, published: aio.port, target: 8080 }],
        healthcheck: {
          test: ['CMD', '/usr/local/bin/cosmo-healthcheck'],
          intervalSeconds: 5,
          timeoutSeconds: 3,
          retries: 3,
          startPeriodSeconds: 60,
        },
        // supervisord stops the manager, RabbitMQ and PostgreSQL in turn (15 + 30 + 30 s at most).
        stopGracePeriodSeconds: 90,
        restart: 'unless-stopped',
        resources: {
          ...(aio.resources.cpus ? { cpus: aio.resources.cpus } : {}),
          ...(aio.resources.memory ? { memory: aio.resources.memory } : {}),
        },
        labels: { 'io.cosmo.mode': 'aio', 'io.cosmo.project': config.name, 'io.cosmo.role': 'aio' },
      },
    ],
    volumes: [volume],
    secrets,
    access: {
      url: `http://${aio.bind === '0.0.0.0' ? 'localhost' : aio.bind}:${aio.port}`,
      adminUser: 'admin',
      adminPassword: files
        ? { file: `${config.credentials.dir}/${SECRET_FILES.admin}` }
        : { inVolume: `/var/lib/cosmo/secrets/${SECRET_FILES.admin}`, service: 'aio' },
    },
  };
}

const PLANNERS: Partial<Record<Mode, (config: CosmoConfig, version: string) => Plan>> = { aio: aioPlan };

export function planFor(config: CosmoConfig, version: string): Plan {
  const planner = PLANNERS[config.mode];
  if (!planner) throw new Error(`mode ${config.mode} has no plan yet`);
  return planner(config, version);
}
