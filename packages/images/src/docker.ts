/**
 * The connection to the Docker Engine, and the one error every command shows when it cannot be reached.
 */

import { withTimeout } from '@cosmo/wait';
import Docker from 'dockerode';

export class DockerUnavailableError extends Error {
  override name = 'DockerUnavailableError';
  readonly endpoint: string;
  constructor(endpoint: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      `cannot reach the Docker Engine at ${endpoint} (${reason}).\n` +
        (process.env.DOCKER_HOST
          ? `DOCKER_HOST is set to '${process.env.DOCKER_HOST}': point it at a running engine or unset it.`
          : 'Start it with `scripts/setup` (or `dockerd &`, or Docker Desktop), or set DOCKER_HOST to an engine that runs.'),
      { cause },
    );
    this.endpoint = endpoint;
  }
}

/** Where dockerode will connect, as a user would write it. */
export function dockerEndpoint(): string {
  return process.env.DOCKER_HOST || 'unix:///var/run/docker.sock';
}

/** A client that has answered a ping, or a DockerUnavailableError naming the endpoint. */
export async function connectDocker(timeoutMs = 5_000): Promise<Docker> {
  const docker = new Docker();
  const endpoint = dockerEndpoint();
  try {
    await withTimeout(docker.ping(), timeoutMs, 'the answer to a ping');
  } catch (error) {
    throw new DockerUnavailableError(endpoint, error);
  }
  return docker;
}

/** The image's inspect data, or undefined when the engine has no such image. */
export async function inspectImage(
  docker: Docker,
  ref: string,
): Promise<Docker.ImageInspectInfo | undefined> {
  try {
    return await docker.getImage(ref).inspect();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}
