/**
 * A multi-host Docker Swarm on one machine, for the deploy test and benchmark: three privileged
 * containers of cosmo/swarm-host, each running its own dockerd, joined into one Swarm (all three
 * managers, so that one may be lost), and a cosmo/registry container they all reach by the name
 * `registry`; this machine pushes to it through a loopback port.
 *
 * What differs from real hosts: the hosts share one kernel, CPU, disk and clock; their engines listen
 * on tcp 2376 over TLS, with certificates from a CA the harness makes (each engine's for its address,
 * and one client certificate, in Docker's DOCKER_CERT_PATH layout); the registry speaks plain HTTP (each host
 * lists it in `insecure-registries`); a host failure is `docker kill` of its container (its engine
 * and every task stop at once, as in a power loss) and its return is `docker start` with the same
 * volume and address.
 */
import { randomInt } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { createCa, issueCertificate, type Pem } from '@cosmo/cli/certificates';
import Docker from 'dockerode';
import { eventually } from './stack.ts';

const outer = new Docker();

export interface SwarmHost {
  name: string;
  /** The host's address on the harness's network (also its Swarm advertise address). */
  ip: string;
  /** Its engine, as `cosmo deploy -H` is given it. */
  endpoint: string;
  docker: Docker;
  container: Docker.Container;
}

export interface SwarmHarness {
  hosts: SwarmHost[];
  /** Where this machine pushes: `127.0.0.1:<port>`. Hosts pull from `registry:5000`. */
  pushTo: string;
  registry: string;
  /** What `cosmo deploy/remove` need in their environment to reach the engines over TLS. */
  engineEnv: Record<string, string>;
  remove(): Promise<void>;
}

/** ca.pem, cert.pem and key.pem in `dir` (Docker's layout), readable by their owner only. */
async function writeTls(dir: string, ca: Pem, pair: Pem): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(path.join(dir, 'ca.pem'), ca.cert, { mode: 0o600 });
  await writeFile(path.join(dir, 'cert.pem'), pair.cert, { mode: 0o600 });
  await writeFile(path.join(dir, 'key.pem'), pair.key, { mode: 0o600 });
}

async function removeIfThere(name: string): Promise<void> {
  await outer
    .getContainer(name)
    .remove({ force: true, v: true })
    .catch(() => {});
}

/** Starts the registry and the hosts and forms the Swarm; `prefix` names everything it makes. */
export async function startSwarm(prefix: string, count = 3): Promise<SwarmHarness> {
  const network = `${prefix}-net`;
  const names = Array.from({ length: count }, (_, i) => `${prefix}-host${i + 1}`);
  // A fixed address per host: a host that comes back must keep the address the Swarm knows it by.
  const subnet = `172.30.${randomInt(16, 250)}`;
  for (const name of [...names, `${prefix}-registry`]) await removeIfThere(name);
  await outer
    .getNetwork(network)
    .remove()
    .catch(() => {});
  await outer.createNetwork({
    Name: network,
    IPAM: { Config: [{ Subnet: `${subnet}.0/24`, Gateway: `${subnet}.1` }] },
    Labels: { 'io.cosmo.test': prefix },
  });

  const registry = await outer.createContainer({
    name: `${prefix}-registry`,
    Image: 'cosmo/registry:latest',
    Labels: { 'io.cosmo.test': prefix },
    HostConfig: {
      NetworkMode: network,
      PortBindings: { '5000/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
    },
    NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: ['registry'] } } },
  });
  await registry.start();
  const port = (await registry.inspect()).NetworkSettings.Ports['5000/tcp']?.[0]?.HostPort;

  // The engines' CA: each engine's certificate carries its address; the client's is what cosmo shows.
  const tlsDir = await mkdtemp(path.join(os.tmpdir(), `${prefix}-engines-`));
  const ca = await createCa(`${prefix} engines CA`);
  const clientDir = path.join(tlsDir, 'client');
  const client = await issueCertificate(ca, { commonName: 'cosmo', dnsNames: [], ipAddresses: [] });
  await writeTls(clientDir, ca, client);
  const clientFiles = { ca: ca.cert, cert: client.cert, key: client.key };

  const hosts: SwarmHost[] = [];
  for (const [i, name] of names.entries()) {
    const ip = `${subnet}.${10 + i}`;
    const engineDir = path.join(tlsDir, name);
    const hostname = name.replace(`${prefix}-`, '');
    await writeTls(
      engineDir,
      ca,
      await issueCertificate(ca, { commonName: hostname, dnsNames: [hostname], ipAddresses: [ip] }),
    );
    const container = await outer.createContainer({
      name,
      Hostname: hostname,
      Image: 'cosmo/swarm-host:latest',
      Env: ['COSMO_INSECURE_REGISTRIES=registry:5000'],
      Labels: { 'io.cosmo.test': prefix },
      HostConfig: {
        Privileged: true,
        NetworkMode: network,
        Mounts: [
          { Type: 'volume', Source: `${name}-docker`, Target: '/var/lib/docker' },
          { Type: 'bind', Source: engineDir, Target: '/etc/cosmo-engine', ReadOnly: true },
        ],
      },
      NetworkingConfig: { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: ip } } } },
    });
    await container.start();
    const docker = new Docker({ host: ip, port: 2376, protocol: 'https', ...clientFiles });
    hosts.push({ name, ip, endpoint: `tcp://${ip}:2376`, docker, container });
  }
  for (const host of hosts) {
    await eventually(
      `${host.name}'s engine`,
      async () => ((await host.docker.ping()) ? true : undefined),
      90_000,
      500,
    );
  }
  const [first, ...others] = hosts;
  await first!.docker.swarmInit({ ListenAddr: '0.0.0.0:2377', AdvertiseAddr: first!.ip });
  const { JoinTokens } = (await first!.docker.swarmInspect()) as { JoinTokens: { Manager: string } };
  for (const host of others) {
    await host.docker.swarmJoin({
      ListenAddr: '0.0.0.0:2377',
      AdvertiseAddr: host.ip,
      RemoteAddrs: [`${first!.ip}:2377`],
      JoinToken: JoinTokens.Manager,
    });
  }
  return {
    hosts,
    pushTo: `127.0.0.1:${port}`,
    registry: 'registry:5000',
    engineEnv: { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: clientDir },
    async remove() {
      await rm(tlsDir, { recursive: true, force: true });
      for (const host of hosts) await host.container.remove({ force: true, v: true }).catch(() => {});
      for (const host of hosts)
        await outer
          .getVolume(`${host.name}-docker`)
          .remove()
          .catch(() => {});
      await removeIfThere(`${prefix}-registry`);
      await outer
        .getNetwork(network)
        .remove()
        .catch(() => {});
    },
  };
}

/** The tasks a host's engine runs for a stack: container id by task name. */
export async function stackContainers(host: SwarmHost, stack: string): Promise<Map<string, string>> {
  const containers = await host.docker.listContainers({
    filters: JSON.stringify({ label: [`com.docker.stack.namespace=${stack}`] }),
  });
  return new Map(containers.map((c) => [c.Names[0]!.replace(/^\//, ''), c.Id]));
}

/** Runs a command in a container on an engine; its stdout (stderr dropped). */
export async function execStdout(engine: Docker, containerId: string, cmd: string[]): Promise<string> {
  const exec = await engine
    .getContainer(containerId)
    .exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({});
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  engine.modem.demuxStream(stream, stdout, new PassThrough());
  await new Promise((resolve) => stream.on('end', resolve));
  return Buffer.concat(chunks).toString();
}
