/**
 * The install flow onto a real multi-host Swarm, as an operator runs it: `cosmo init --mode compact
 * --registry …`, then `cosmo deploy -H <a manager> --label-nodes --push-to …` (push the images, pin
 * them by digest, label the nodes, deploy the stack, wait for OK through the load balancer). One host
 * killed: the platform keeps serving, Degraded; back: OK. A second deploy changes nothing. `cosmo
 * remove --volumes --yes` leaves nothing behind on any host. What differs from real hosts is said in
 * support/swarm.ts.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createCa, issueCertificate } from '@cosmo/cli/certificates';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, client, trustProjectCa } from './support/api.ts';
import { cosmo } from './support/cli.ts';
import { API, executionsQueueReplicated } from './support/cluster.ts';
import { eventually } from './support/stack.ts';
import {
  execStdout,
  type SwarmHarness,
  type SwarmHost,
  stackContainers,
  startSwarm,
} from './support/swarm.ts';

const STACK = 'cosmo-itest-sw';
let swarm: SwarmHarness;
let dir: string;
let api: Client;
let lbHost: SwarmHost;
let deploy: { code: number | null; stdout: string; stderr: string };
let refused: { code: number | null; stdout: string; stderr: string };
let servicesAfterRefusal: number;

const deployArgs = () => [
  'deploy',
  '-H',
  swarm.hosts[0]!.endpoint,
  '--push-to',
  swarm.pushTo,
  '--timeout',
  '400',
];

async function status(): Promise<any> {
  return (await api.get(`${API}/cluster-status`)).body;
}

/** cluster-status once it says `wanted` (and, when given, once `also` holds of what it says). */
function state(wanted: string, timeoutMs: number, also: (body: any) => boolean = () => true): Promise<any> {
  return eventually(
    `cluster-status ${wanted}`,
    async () => {
      const body = await status();
      return body?.status === wanted && also(body) ? body : undefined;
    },
    timeoutMs,
    1_000,
  );
}

beforeAll(async () => {
  swarm = await startSwarm('cosmo-itest-swarm');
  dir = await mkdtemp(path.join(os.tmpdir(), `${STACK}-`));
  // The hosts' addresses are the names clients reach the API by: the API's certificate carries them.
  const publicNames = swarm.hosts.flatMap((host) => ['--public-name', host.ip]);
  const init = await cosmo(
    ['init', '--mode', 'compact', '--name', STACK, '--registry', swarm.registry, ...publicNames],
    { cwd: dir },
  );
  if (init.code !== 0) throw new Error(`cosmo init failed: ${init.stderr}`);
  // First without --label-nodes: refused, naming the labels, and nothing is deployed.
  refused = await cosmo(deployArgs(), { cwd: dir, env: swarm.engineEnv });
  servicesAfterRefusal = (await swarm.hosts[0]!.docker.listServices()).length;
  deploy = await cosmo([...deployArgs(), '--label-nodes'], { cwd: dir, env: swarm.engineEnv });
  if (deploy.code !== 0)
    throw new Error(`cosmo deploy failed (${deploy.code}):\n${deploy.stdout}\n${deploy.stderr}`);
  const url = /Cosmo is deployed in [\d.]+ s: (https:\/\/[^/]+)\/api\/v3\.1/.exec(deploy.stdout)?.[1];
  if (!url) throw new Error(`cosmo deploy did not say where: ${deploy.stdout}`);
  const password = (await readFile(path.join(dir, 'secrets/admin_password'), 'utf8')).trim();
  await trustProjectCa(dir);
  api = client(url, { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` });
  lbHost = swarm.hosts.find((host) => url.includes(`//${host.ip}:`))!;
}, 900_000);

afterAll(async () => {
  await swarm?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('cosmo deploy onto a 3-host Swarm', () => {
  it('refuses without --label-nodes, naming each label and node, before changing anything', () => {
    expect(refused.code).toBe(2);
    for (const line of [
      'docker node update --label-add io.cosmo.node1=true host1',
      'docker node update --label-add io.cosmo.node2=true host2',
      'docker node update --label-add io.cosmo.node3=true host3',
      'docker node update --label-add io.cosmo.lb=true host1',
    ]) {
      expect(refused.stderr).toContain(line);
    }
    expect(refused.stdout).not.toContain('pushed');
    expect(servicesAfterRefusal).toBe(0);
  });

  it('reaches the engines over TLS only: plain tcp to another host, or no client certificate, is refused before anything changes', async () => {
    const plain = await cosmo([...deployArgs(), '-H', `tcp://${swarm.hosts[0]!.ip}:2375`], {
      cwd: dir,
      env: { DOCKER_TLS_VERIFY: '' },
    });
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain('is a Docker engine on another host in plain tcp');
    expect(plain.stderr).toContain('--insecure-engine');
    // The TLS port with a client certificate from another CA: the engine refuses the handshake.
    const stranger = await mkdtemp(path.join(os.tmpdir(), `${STACK}-stranger-`));
    try {
      const other = await createCa('Another CA');
      const pair = await issueCertificate(other, { commonName: 'cosmo', dnsNames: [], ipAddresses: [] });
      await copyFile(path.join(swarm.engineEnv.DOCKER_CERT_PATH!, 'ca.pem'), path.join(stranger, 'ca.pem'));
      await writeFile(path.join(stranger, 'cert.pem'), pair.cert);
      await writeFile(path.join(stranger, 'key.pem'), pair.key);
      const refusedTls = await cosmo(deployArgs(), {
        cwd: dir,
        env: { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: stranger },
      });
      expect(refusedTls.code).toBe(2);
      expect(refusedTls.stderr).toContain(
        `cannot reach the Docker Engine at ${swarm.hosts[0]!.endpoint} over TLS`,
      );
    } finally {
      await rm(stranger, { recursive: true, force: true });
    }
  });

  it('refuses a stack with more pinned members than the Swarm has nodes', async () => {
    const other = await mkdtemp(path.join(os.tmpdir(), `${STACK}-other-`));
    try {
      await cosmo(['init', '--mode', 'distributed', '--name', 'other', '--registry', swarm.registry], {
        cwd: other,
      });
      const answer = await cosmo(deployArgs(), { cwd: other, env: swarm.engineEnv });
      expect(answer.code).toBe(2);
      expect(answer.stderr).toContain(
        'io.cosmo.queue1 needs a node of its own: the Swarm has 3 ready node(s) for 6 pinned members',
      );
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('reaches OK through the LB: one node per host, images pinned by digest, labels applied', async () => {
    const body = await state('OK', 60_000);
    expect(Object.keys(body.services.db.nodes).sort()).toEqual(['node1', 'node2', 'node3']);
    expect(Object.keys(body.services.broker.nodes).sort()).toEqual(['node1', 'node2', 'node3']);
    const services = await swarm.hosts[0]!.docker.listServices({
      filters: JSON.stringify({ label: [`com.docker.stack.namespace=${STACK}`] }),
    });
    for (const service of services as any[]) {
      expect(service.Spec.TaskTemplate.ContainerSpec.Image).toMatch(
        /^registry:5000\/cosmo\/(node|lb)@sha256:[0-9a-f]{64}$/,
      );
    }
    for (const [i, host] of swarm.hosts.entries()) {
      expect(
        [...(await stackContainers(host, STACK)).keys()].some((name) =>
          name.startsWith(`${STACK}_node${i + 1}.`),
        ),
      ).toBe(true);
    }
    expect(deploy.stdout).toContain('labelled host1: io.cosmo.node1=true');
    // The LB runs on every host: each host's published port serves the API.
    for (const host of swarm.hosts) {
      const ok = await eventually(`the LB on ${host.name}`, async () => {
        const answer = await fetch(`https://${host.ip}:8080/api/v3.1/ok`).catch(() => undefined);
        return answer?.status === 200 ? answer : undefined;
      });
      expect(await ok.json()).toBe('OK');
    }
  });

  it('a second cosmo deploy restarts nothing', async () => {
    const before = await Promise.all(swarm.hosts.map((host) => stackContainers(host, STACK)));
    const again = await cosmo(deployArgs(), { cwd: dir, env: swarm.engineEnv });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toContain('labelled');
    const after = await Promise.all(swarm.hosts.map((host) => stackContainers(host, STACK)));
    expect(after.map((m) => [...m.entries()].sort())).toEqual(before.map((m) => [...m.entries()].sort()));
  });

  it('a host killed: the platform keeps serving, Degraded; the host back: OK', async () => {
    // Every broker must hold a member of the executions queue first (see README: a fresh queue grows).
    const nodeContainer = [...(await stackContainers(lbHost, STACK)).entries()].find(([name]) =>
      name.includes('_node'),
    )!;
    await executionsQueueReplicated((cmd) => execStdout(lbHost.docker, nodeContainer[1], cmd), 3, 60_000);
    const victim = swarm.hosts.find((host) => host !== lbHost)!;
    await victim.container.kill();
    // The lost manager or broker can make the platform Degraded before Patroni's member key expires:
    // wait until the lost database member is seen too.
    const dbOk = (body: any) => Object.values(body.services.db.nodes).filter((n: any) => n.status === 'OK');
    const degraded = await state('Degraded', 180_000, (body) => dbOk(body).length === 2);
    expect(dbOk(degraded)).toHaveLength(2);
    const write = await api.raw('PUT', `${API}/blueprints/while-degraded`, {
      raw: 'tosca_definitions_version: x\nnode_templates:\n  a: {type: t}\n',
      headers: { 'content-type': 'application/yaml' },
    });
    expect(write.status).toBe(201);
    await victim.container.start();
    await state('OK', 300_000);
    expect((await api.get(`${API}/blueprints/while-degraded`)).status).toBe(200);
  });

  it('cosmo remove --volumes --yes leaves nothing behind on any host', async () => {
    const removed = await cosmo(['remove', '-H', swarm.hosts[0]!.endpoint, '--volumes', '--yes'], {
      cwd: dir,
      env: swarm.engineEnv,
    });
    expect(removed.code, `${removed.stdout}\n${removed.stderr}`).toBe(0);
    const label = JSON.stringify({ label: [`com.docker.stack.namespace=${STACK}`] });
    for (const host of swarm.hosts) {
      expect(await host.docker.listContainers({ all: true, filters: label })).toEqual([]);
      expect((await host.docker.listVolumes({ filters: label })).Volumes ?? []).toEqual([]);
      expect(await host.docker.listNetworks({ filters: label })).toEqual([]);
    }
    expect(await swarm.hosts[0]!.docker.listServices({ filters: label })).toEqual([]);
    expect(await swarm.hosts[0]!.docker.listSecrets({ filters: label })).toEqual([]);
  });
});
