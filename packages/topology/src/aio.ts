/** The All-in-One: one container (manager, PostgreSQL, RabbitMQ) on one volume. */
import type { CosmoConfig } from './config.ts';
import type { ManagerEnv } from './manager-env.ts';
import {
  accessUrl,
  healthcheck,
  imageRef,
  type Plan,
  publicAddress,
  SECRET_FILES,
  type SecretKey,
  secretMount,
  secretPath,
  secretPlans,
} from './plan.ts';
import { apiNames, tlsPlan } from './tls.ts';

const CREDENTIALS: readonly SecretKey[] = ['db', 'mq', 'admin', 'secretsKey'];
const CERTIFICATE: readonly SecretKey[] = ['apiCert', 'apiKey'];

export function aioPlan(config: CosmoConfig, version: string): Plan {
  const aio = config.modes.aio;
  const files = config.credentials.source === 'files';
  // Compose prefixes volumes with the project name: cosmo_data.
  const volume = 'data';
  const tls = config.tls;
  const given: SecretKey[] = files ? [...CREDENTIALS, ...(tls ? CERTIFICATE : [])] : [];
  return {
    name: config.name,
    mode: 'aio',
    services: [
      {
        name: 'aio',
        imageName: 'aio',
        image: imageRef(config, 'aio', version),
        localImage: config.images.registry === '',
        environment: {
          RABBITMQ_MEMORY_HIGH_WATERMARK: '512MB',
          COSMO_PUBLIC_IP: publicAddress(config, aio.bind),
          ...(files
            ? ({
                COSMO_ADMIN_PASSWORD_FILE: secretPath('admin'),
                COSMO_DB_PASSWORD_FILE: secretPath('db'),
                COSMO_MQ_PASSWORD_FILE: secretPath('mq'),
                COSMO_SECRETS_KEY_FILE: secretPath('secretsKey'),
              } satisfies ManagerEnv)
            : {}),
          // The API's certificate from the project's CA; without files, the container issues its
          // own from a CA it makes in its volume (cosmo/aio's COSMO_TLS, on unless `off`).
          ...(files && tls
            ? ({
                COSMO_HTTP_TLS_CERT_FILE: secretPath('apiCert'),
                COSMO_HTTP_TLS_KEY_FILE: secretPath('apiKey'),
              } satisfies ManagerEnv)
            : { COSMO_TLS: tls ? 'on' : 'off' }),
        },
        secrets: given.map((key) => secretMount(config, key)),
        volumes: [{ volume, target: '/var/lib/cosmo' }],
        // The private copies of secrets the entrypoint makes for each service's user stay in memory.
        tmpfs: ['/run/cosmo', '/run/postgresql', '/run/rabbitmq-root'],
        ports: [{ host: aio.bind, published: aio.port, target: 8080 }],
        healthcheck: healthcheck(['CMD', '/usr/local/bin/cosmo-healthcheck'], 60),
        // The entrypoint stops the manager, RabbitMQ and PostgreSQL in turn (15 + 30 + 30 s at most).
        stopGracePeriodSeconds: 90,
        restart: 'unless-stopped',
        resources: {
          ...(aio.resources.cpus ? { cpus: aio.resources.cpus } : {}),
          // PostgreSQL (128 MB shared buffers), RabbitMQ (flow control at 512 MB) and the manager fit.
          memory: aio.resources.memory ?? '2g',
        },
        labels: { 'io.cosmo.mode': 'aio', 'io.cosmo.project': config.name, 'io.cosmo.role': 'aio' },
      },
    ],
    volumes: [volume],
    secrets: secretPlans(config, given),
    ...(files && tls ? { tls: tlsPlan(config, apiNames(config, aio.bind, ['aio'])) } : {}),
    access: {
      url: accessUrl(config, aio.bind, aio.port),
      ...(tls
        ? {
            ca: files
              ? { file: `${config.credentials.dir}/${SECRET_FILES.ca}` }
              : { inVolume: `/var/lib/cosmo/secrets/${SECRET_FILES.ca}`, service: 'aio' },
          }
        : {}),
      adminUser: 'admin',
      adminPassword: files
        ? { file: `${config.credentials.dir}/${SECRET_FILES.admin}` }
        : { inVolume: `/var/lib/cosmo/secrets/${SECRET_FILES.admin}`, service: 'aio' },
    },
  };
}
