/**
 * The All-in-One as the tests start it (cosmo/aio on a volume of the test's, its port published),
 * and what they read from it: the admin's API client, and SQL run as PostgreSQL's superuser.
 */

import { trustCa } from '@cosmo/cli/api-client';
import Docker from 'dockerode';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { type Client, client } from './api.ts';
import { asPlanned } from './privileges.ts';

/**
 * Readiness: /ok answers 200, over HTTPS unless the container serves plain HTTP. Only readiness: the
 * tests' own requests check the certificate against the container's CA (aioUrl).
 */
export function aioReady(tls = true) {
  const wait = Wait.forHttp('/api/v3.1/ok', 8080).forStatusCode(200);
  return tls ? wait.usingTls().allowInsecure() : wait;
}

export async function startAio(
  volume: string,
  env: Record<string, string> = {},
): Promise<StartedTestContainer> {
  return asPlanned(new GenericContainer('cosmo/aio:latest'), 'aio')
    .withEnvironment(env)
    .withBindMounts([{ source: volume, target: '/var/lib/cosmo' }])
    .withExposedPorts(8080)
    .withWaitStrategy(aioReady(env.COSMO_TLS !== 'off'))
    .withStartupTimeout(180_000)
    .start();
}

/** A file the All-in-One generated in its volume's secrets/. */
async function generated(container: StartedTestContainer, name: string): Promise<string> {
  const { output, exitCode } = await container.exec(['cat', `/var/lib/cosmo/secrets/${name}`]);
  if (exitCode !== 0) throw new Error(`reading ${name} failed: ${output}`);
  return output;
}

/** The API's URL (https, the CA the container made in its volume trusted; http with COSMO_TLS=off). */
export async function aioUrl(container: StartedTestContainer): Promise<string> {
  // What this start serves: the entrypoint gives the manager its certificate in /run/cosmo.
  const tls = (await container.exec(['test', '-s', '/run/cosmo/api.crt'])).exitCode === 0;
  if (tls) trustCa(await generated(container, 'ca.crt'));
  return `${tls ? 'https' : 'http'}://${container.getHost()}:${container.getMappedPort(8080)}`;
}

/** The admin's client, with the password the All-in-One generated in its volume, and the API's URL. */
export async function adminClient(
  container: StartedTestContainer,
): Promise<{ api: Client; password: string; url: string }> {
  const password = (await generated(container, 'admin_password')).trim();
  const url = await aioUrl(container);
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
