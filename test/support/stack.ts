/**
 * A manager with its own PostgreSQL and RabbitMQ, each a container of Cosmo's images on a network of
 * its own, secrets generated for the run and copied in as files.
 */
import { randomBytes } from 'node:crypto';
import { waitFor } from '@cosmo/wait';
import {
  GenericContainer,
  Network,
  type StartedNetwork,
  type StartedTestContainer,
  Wait,
} from 'testcontainers';
import { asPlanned } from './privileges.ts';

export interface Stack {
  network: StartedNetwork;
  db: StartedTestContainer;
  mq: StartedTestContainer;
  /** The first manager; `managers` holds all of them (each with its own worker). */
  manager: StartedTestContainer;
  managers: StartedTestContainer[];
  url: string;
  adminPassword: string;
  /** Authorization header of the admin. */
  admin: { authorization: string };
  stop(): Promise<void>;
}

const secret = () => randomBytes(18).toString('base64url');

export async function startStack(
  managerEnv: Record<string, string> = {},
  options: { managers?: number } = {},
): Promise<Stack> {
  const network = await new Network().start();
  const dbPassword = secret();
  const mqPassword = secret();
  const adminPassword = secret();
  const file = (content: string, target: string) => ({ content, target, mode: 0o444 });

  const [db, mq] = await Promise.all([
    new GenericContainer('cosmo/postgres:latest')
      .withNetwork(network)
      .withNetworkAliases('db')
      .withCopyContentToContainer([file(dbPassword, '/run/secrets/db_password')])
      .withEnvironment({ POSTGRES_PASSWORD_FILE: '/run/secrets/db_password' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forListeningPorts())
      .withStartupTimeout(120_000)
      .start(),
    new GenericContainer('cosmo/rabbitmq:latest')
      .withNetwork(network)
      .withNetworkAliases('mq')
      .withCopyContentToContainer([file(mqPassword, '/run/secrets/mq_password')])
      .withEnvironment({ RABBITMQ_PASSWORD_FILE: '/run/secrets/mq_password' })
      .withExposedPorts(5672)
      .withWaitStrategy(Wait.forListeningPorts())
      .withStartupTimeout(120_000)
      .start(),
  ]);

  const startManager = (n: number) =>
    asPlanned(new GenericContainer('cosmo/manager:latest'), 'manager')
      .withNetwork(network)
      .withCopyContentToContainer([
        file(dbPassword, '/run/secrets/db_password'),
        file(mqPassword, '/run/secrets/mq_password'),
        file(adminPassword, '/run/secrets/admin_password'),
      ])
      .withEnvironment({
        COSMO_NODE_NAME: `manager-${n}`,
        COSMO_DB_HOST: 'db',
        COSMO_DB_PASSWORD_FILE: '/run/secrets/db_password',
        COSMO_MQ_HOSTS: 'mq',
        COSMO_MQ_PASSWORD_FILE: '/run/secrets/mq_password',
        COSMO_ADMIN_PASSWORD_FILE: '/run/secrets/admin_password',
        ...managerEnv,
      })
      .withExposedPorts(8080)
      .withWaitStrategy(Wait.forHttp('/api/v3.1/ok', 8080).forStatusCode(200))
      .withStartupTimeout(120_000)
      .start();
  // The first one alone (it creates the schema), then the others.
  const managers = [await startManager(1)];
  for (let n = 2; n <= (options.managers ?? 1); n++) managers.push(await startManager(n));
  const manager = managers[0]!;

  const url = `http://${manager.getHost()}:${manager.getMappedPort(8080)}`;
  return {
    network,
    db,
    mq,
    manager,
    managers,
    url,
    adminPassword,
    admin: { authorization: `Basic ${Buffer.from(`admin:${adminPassword}`).toString('base64')}` },
    async stop() {
      await Promise.allSettled([...managers.map((m) => m.stop()), db.stop(), mq.stop()]);
      await network.stop().catch(() => {});
    },
  };
}

/** Polls until fn returns a value other than undefined, or fails after the timeout (@cosmo/wait). */
export function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  everyMs = 250,
): Promise<T> {
  return waitFor(what, fn, { timeoutMs, delayMs: everyMs });
}

/** Polls an execution until it is terminated, failed or cancelled; returns it. */
export function finishedExecution(
  api: { get(path: string): Promise<{ body: any }> },
  id: string,
  timeoutMs = 60_000,
): Promise<any> {
  return eventually(
    `execution ${id} to finish`,
    async () => {
      const { body } = await api.get(`/api/v3.1/executions/${id}`);
      return ['terminated', 'failed', 'cancelled'].includes(body?.status) ? body : undefined;
    },
    timeoutMs,
  );
}
