/**
 * How the CLI reaches a Docker engine other than the local socket: `tcp://` over TLS (Docker's own
 * DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, or a docker context's TLS data), or `ssh://`. Plain tcp to
 * another host is refused unless the operator says `--insecure-engine`: whoever reaches such a port
 * is root on that host, and a deploy sends it the platform's secrets in clear.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { UsageError } from './errors.ts';

/** A client certificate and the CA the engine's certificate is checked against (files, Docker's layout). */
export interface EngineTls {
  ca: string;
  cert: string;
  key: string;
}

export interface EngineAddress {
  /** As the user wrote it (tcp://…, ssh://…, unix://…). */
  endpoint: string;
  tls?: EngineTls;
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[?::1\]?)$/;

/** Docker's files in a folder (DOCKER_CERT_PATH's layout, and a context's `docker/` TLS folder). */
export function tlsFiles(dir: string): EngineTls {
  return { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
}

/** TLS as the docker CLI takes it from the environment: DOCKER_TLS_VERIFY set (not empty, not 0). */
export function tlsFromEnv(env: NodeJS.ProcessEnv = process.env): EngineTls | undefined {
  const verify = env.DOCKER_TLS_VERIFY;
  if (!verify || verify === '0') return undefined;
  return tlsFiles(env.DOCKER_CERT_PATH || path.join(os.homedir(), '.docker'));
}

function read(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(
      `${what} ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? error}): DOCKER_CERT_PATH (or the context's TLS folder) must hold ca.pem, cert.pem and key.pem`,
    );
  }
}

/**
 * A dockerode client for the engine. `insecure` allows plain tcp to another host; TLS is used when
 * given, and its default port is 2376 (2375 without).
 */
export function dockerFor(address: EngineAddress, options: { insecure?: boolean } = {}): Docker {
  const { endpoint, tls } = address;
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(endpoint);
  if (tcp) {
    const host = tcp[1]!;
    if (tls) {
      return new Docker({
        host,
        port: Number(tcp[2] ?? 2376),
        protocol: 'https',
        ca: read(tls.ca, 'the CA'),
        cert: read(tls.cert, 'the client certificate'),
        key: read(tls.key, 'the client key'),
      });
    }
    if (!LOOPBACK.test(host) && !options.insecure) {
      throw new UsageError(
        `${endpoint} is a Docker engine on another host in plain tcp: whoever reaches that port is root there, and a deploy would send it the platform's secrets in clear. ` +
          'Reach it over TLS (DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, or a docker context with TLS), or ssh://USER@HOST; --insecure-engine accepts the risk',
      );
    }
    return new Docker({ host, port: Number(tcp[2] ?? 2375), protocol: 'http' });
  }
  const ssh = /^ssh:\/\/(?:([^@/]+)@)?([^:/]+)(?::(\d+))?\/?$/.exec(endpoint);
  if (ssh) {
    return new Docker({
      protocol: 'ssh',
      host: ssh[2]!,
      port: Number(ssh[3] ?? 22),
      ...(ssh[1] ? { username: ssh[1] } : {}),
      // The operator's ssh agent holds the key, as for `docker -H ssh://…`.
      sshOptions: { agent: process.env.SSH_AUTH_SOCK },
    } as Docker.DockerOptions);
  }
  const unix = /^unix:\/\/(\/.+)$/.exec(endpoint);
  if (unix) return new Docker({ socketPath: unix[1]! });
  throw new UsageError(
    `${endpoint}: not an engine address; use tcp://HOST:PORT (with TLS), ssh://USER@HOST or unix:///PATH`,
  );
}

/** What the docker CLI needs to act on the same engine, the same way. */
export function dockerCliArgs(address: EngineAddress): string[] {
  const { endpoint, tls } = address;
  if (!tls) return ['--host', endpoint];
  return [
    '--host',
    endpoint,
    '--tlsverify',
    '--tlscacert',
    tls.ca,
    '--tlscert',
    tls.cert,
    '--tlskey',
    tls.key,
  ];
}

/** Another node of the same Swarm, reached the way the manager was (same scheme, port and TLS files). */
export function nodeAddress(manager: EngineAddress, nodeAddr: string): EngineAddress | undefined {
  const tcp = /^tcp:\/\/[^:/]+(?::(\d+))?\/?$/.exec(manager.endpoint);
  if (tcp) {
    const port = tcp[1] ?? (manager.tls ? '2376' : '2375');
    return { endpoint: `tcp://${nodeAddr}:${port}`, ...(manager.tls ? { tls: manager.tls } : {}) };
  }
  const ssh = /^ssh:\/\/(?:([^@/]+)@)?[^:/]+(?::(\d+))?\/?$/.exec(manager.endpoint);
  if (ssh) return { endpoint: `ssh://${ssh[1] ? `${ssh[1]}@` : ''}${nodeAddr}${ssh[2] ? `:${ssh[2]}` : ''}` };
  return undefined;
}
