/**
 * The All-in-One as the tests start it (cosmo/aio on a volume of the test's, its port published),
 * and what they read from it: the admin's API client, and SQL run as PostgreSQL's superuser.
 */
import Docker from 'dockerode';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { type Client, client } from './api.ts';
import { asPlanned } from './privileges.ts';

export async function startAio(
  volume: string,
  env: Record<string, string> = {},
): Promise<StartedTestContainer> {
  return asPlanned(new GenericContainer('cosmo/aio:latest'), 'aio')
    .withEnvironment(env)
    .withBindMounts([{ source: volume, target: '/var/lib/cosmo' }])
    .withExposedPorts(8080)
    .withWaitStrategy(Wait.forHttp('/api/v3.1/ok', 8080).forStatusCode(200))
    .withStartupTimeout(180_000)
    .start();
}

/** The admin's client, with the password the All-in-One generated in its volume, and the API's URL. */
export async function adminClient(
  container: StartedTestContainer,
): Promise<{ api: Client; password: string; url: string }> {
  const { output, exitCode } = await container.exec(['cat', '/var/lib/cosmo/secrets/admin_password']);
  if (exitCode !== 0) throw new Error(`reading the admin password failed: ${output}`);
  const password = output.trim();
  const url = `http://${container.getHost()}:${container.getMappedPort(8080)}`;
  return {
    api: client(url, { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` }),
    password,
    url,
  };
}

/** One SQL statement run by psql as `postgres` over the container's local socket; its output (-At). */
export async function psql(
  container: StartedTestContainer,
  sql: string,
  database = 'postgres',
): Promise<string> {
  const result = await container.exec(
    ['psql', '-h', '/run/postgresql', '-U', 'postgres', '-d', database, '-Atc', sql],
    { user: 'postgres' },
  );
  if (result.exitCode !== 0) throw new Error(`psql failed (${result.exitCode}): ${result.output}`);
  return result.output.trim();
}

/** Removes a volume the test made, if it is still there (nothing to do when it is not). */
export async function removeVolume(name: string): Promise<void> {
  await new Docker()
    .getVolume(name)
    .remove()
    .catch(() => {});
}
