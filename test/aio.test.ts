/**
 * The All-in-One end to end: the cosmo/aio image reaches cluster-status OK and runs an execution;
 * its data and credentials survive a new container on the same volume; runit brings back a
 * killed RabbitMQ; compose/aio/compose.yaml comes up healthy; `cosmo up`/`status`/`down` leave
 * nothing behind; bad configuration and flags are refused with exit 2 and nothing written.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { trustCa } from '@cosmo/cli/api-client';
import Docker from 'dockerode';
import { DockerComposeEnvironment, GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, aioReady, removeVolume, startAio } from './support/aio.ts';
import { type Client, client, trustProjectCa } from './support/api.ts';
import { COUNTING_BLUEPRINT, COUNTING_RUNS, scriptRuns, uploadArchive } from './support/blueprints.ts';
import { cosmo, REPO_ROOT } from './support/cli.ts';
import { asPlanned } from './support/privileges.ts';
import { eventually } from './support/stack.ts';

const API = '/api/v3.1';
const docker = new Docker();
const BLUEPRINT =
  'tosca_definitions_version: x\nnode_templates:\n  vm: {type: t}\n  app: {type: t, relationships: [{type: r, target: vm}]}\n';

/** Runs a command in a folder; rejects with its output when it fails. */
function run(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(command, args, { cwd }, (error, stdout, stderr) =>
      error ? reject(new Error(`${command} ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout),
    ),
  );
}

const clusterOk = (api: Client) =>
  eventually(
    'cluster-status OK',
    async () => ((await api.get(`${API}/cluster-status`)).body.status === 'OK' ? true : undefined),
    120_000,
  );

describe('the cosmo/aio image', () => {
  const volume = `cosmo-itest-aio-${process.pid}`;
  let container: StartedTestContainer | undefined;
  let api: Client;
  let password: string;
  let executionId: string;

  beforeAll(async () => {
    await docker.createVolume({ Name: volume, Labels: { 'io.cosmo.test': 'aio' } });
    container = await startAio(volume);
    ({ api, password } = await adminClient(container));
  });

  afterAll(async () => {
    await container?.stop();
    await removeVolume(volume);
  });

  it('generates its credentials on first start, 0600 in the volume, and logs where, not what', async () => {
    const { output } = await container!.exec([
      'stat',
      '-c',
      '%a %n',
      '/var/lib/cosmo/secrets/admin_password',
      '/var/lib/cosmo/secrets/db_password',
    ]);
    expect(
      output
        .trim()
        .split('\n')
        .map((line) => line.split(' ')[0]),
    ).toEqual(['600', '600']);
    const logs = (
      await docker.getContainer(container!.getId()).logs({ stdout: true, stderr: true })
    ).toString();
    expect(logs).toContain('its password is in /var/lib/cosmo/secrets/admin_password');
    expect(logs).not.toContain(password);
  });

  it('listens outside loopback on the API port only (PostgreSQL, AMQP, epmd, Erlang distribution stay inside)', async () => {
    await clusterOk(api);
    const { output } = await container!.exec(['cat', '/proc/net/tcp', '/proc/net/tcp6']);
    // Listening sockets (state 0A) as address:port, from the kernel's hex notation.
    const listening = output
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields[3] === '0A')
      .map((fields) => {
        const [address, port] = fields[1]!.split(':');
        return { loopback: /^(0100007F|0{24}01000000)$/.test(address!), port: Number.parseInt(port!, 16) };
      });
    const ports = new Set(listening.map((socket) => socket.port));
    for (const port of [5432, 5672, 4369, 25672]) expect(ports.has(port)).toBe(true);
    expect(listening.filter((socket) => !socket.loopback).map((socket) => socket.port)).toEqual([8080]);
  });

  it("keeps RabbitMQ's configuration where the rabbitmq user cannot plant a link for root to follow", async () => {
    const stat = await container!.exec(['stat', '-c', '%U:%G %a', '/etc/rabbitmq/conf.d']);
    expect(stat.output.trim()).toBe('root:rabbitmq 750');
    const plant = await container!.exec([
      'setpriv',
      '--reuid=rabbitmq',
      '--regid=rabbitmq',
      '--init-groups',
      'ln',
      '-sf',
      '/etc/shadow',
      '/etc/rabbitmq/conf.d/50-credentials.conf',
    ]);
    expect(plant.exitCode).not.toBe(0);
    const credentials = await container!.exec([
      'stat',
      '-c',
      '%U:%G %a %F',
      '/etc/rabbitmq/conf.d/50-credentials.conf',
    ]);
    expect(credentials.output.trim()).toBe('root:rabbitmq 640 regular file');
  });

  it('reaches cluster-status OK with manager, db and broker', async () => {
    await clusterOk(api);
    const { body } = await api.get(`${API}/cluster-status`);
    expect(body.services.manager.status).toBe('OK');
    expect(body.services.db.status).toBe('OK');
    expect(body.services.broker.status).toBe('OK');
  });

  it('runs an execution round trip', async () => {
    expect(
      (
        await api.raw('PUT', `${API}/blueprints/bp`, {
          raw: BLUEPRINT,
          headers: { 'content-type': 'application/yaml' },
        })
      ).status,
    ).toBe(201);
    expect((await api.put(`${API}/deployments/dep`, { blueprint_id: 'bp' })).status).toBe(201);
    const started = await api.post(`${API}/executions`, { deployment_id: 'dep', workflow_id: 'install' });
    expect(started.status).toBe(201);
    executionId = started.body.id;
    const done = await eventually('the install to finish', async () => {
      const { body } = await api.get(`${API}/executions/${executionId}`);
      return body.status === 'terminated' ? body : undefined;
    });
    expect(done.ended_at).not.toBeNull();
    expect((await api.get(`${API}/events?execution_id=${executionId}`)).body.metadata.pagination.total).toBe(
      8,
    );
  });

  it('keeps blueprints, executions and credentials in a new container on the same volume', async () => {
    await container!.stop();
    container = await startAio(volume);
    const again = await adminClient(container);
    expect(again.password).toBe(password);
    await clusterOk(again.api);
    expect((await again.api.get(`${API}/blueprints/bp`)).status).toBe(200);
    expect((await again.api.get(`${API}/executions/${executionId}`)).body.status).toBe('terminated');
    api = again.api;
  });

  it('restarts a RabbitMQ killed with kill -9, and status returns to OK', async () => {
    const pid = (await container!.exec(['cat', '/run/cosmo-sv/rabbitmq/supervise/pid'])).output.trim();
    expect(pid).toMatch(/^\d+$/);
    expect((await container!.exec(['kill', '-9', pid])).exitCode).toBe(0);
    await eventually('runit to restart RabbitMQ', async () => {
      const now = (await container!.exec(['cat', '/run/cosmo-sv/rabbitmq/supervise/pid'])).output.trim();
      return /^\d+$/.test(now) && now !== pid ? now : undefined;
    });
    await eventually(
      'status OK again',
      async () => ((await api.get(`${API}/status`)).body.status === 'OK' ? true : undefined),
      120_000,
    );
    await clusterOk(api);
  });
});

describe('an All-in-One killed with SIGKILL (power loss, OOM kill)', () => {
  const volume = `cosmo-itest-aio-kill-${process.pid}`;
  // Slow operations, so that an execution is surely running when the container is killed.
  const env = { COSMO_STEP_DELAY_MS: '400' };
  let container: StartedTestContainer | undefined;
  let api: Client;
  /** Every execution the API acknowledged (201): each must survive every kill and finish. */
  const acknowledged: string[] = [];

  const hardKillAndStartAgain = async () => {
    const handle = docker.getContainer(container!.getId());
    await handle.kill({ signal: 'SIGKILL' });
    await handle.remove({ force: true });
    container = await startAio(volume, env);
    ({ api } = await adminClient(container));
    await clusterOk(api);
  };

  const startExecution = async (): Promise<string> => {
    const started = await api.post(`${API}/executions`, { deployment_id: 'dep', workflow_id: 'install' });
    expect(started.status).toBe(201);
    acknowledged.push(started.body.id);
    return started.body.id;
  };

  const everyExecutionFinishes = async () => {
    for (const id of acknowledged) {
      const done = await eventually(`execution ${id} to finish`, async () => {
        const { body } = await api.get(`${API}/executions/${id}`);
        return body.status === 'terminated' ? body : undefined;
      });
      expect(done.status).toBe('terminated');
    }
  };

  beforeAll(async () => {
    await docker.createVolume({ Name: volume, Labels: { 'io.cosmo.test': 'aio' } });
    container = await startAio(volume, env);
    ({ api } = await adminClient(container));
  });

  afterAll(async () => {
    if (container)
      await docker
        .getContainer(container.getId())
        .remove({ force: true })
        .catch(() => {});
    await removeVolume(volume);
  });

  it('comes back when killed right after its first start (the queue just declared)', async () => {
    // startAio returns as soon as /ok answers: the broker has just created its queue.
    await hardKillAndStartAgain();
    expect((await api.get(`${API}/status`)).body.status).toBe('OK');
  });

  it('comes back when killed mid-execution, and finishes the execution', async () => {
    expect((await uploadArchive(api, 'bp', COUNTING_BLUEPRINT)).status).toBe(201);
    expect((await api.put(`${API}/deployments/dep`, { blueprint_id: 'bp' })).status).toBe(201);
    const id = await startExecution();
    // Killed once some operations have finished: a run that started over would run them again.
    await eventually(
      'two operations of the execution to have finished',
      async () => {
        const { body } = await api.get(`${API}/events?execution_id=${id}&event_type=operation_succeeded`);
        return body.metadata.pagination.total >= 2 ? true : undefined;
      },
      60_000,
      100,
    );
    await hardKillAndStartAgain();
    await everyExecutionFinishes();
    // Counted by the scripts: the redelivered execution resumed, it did not start over. Every
    // operation ran; only the one running at the kill may have run again.
    const counts = [...((await scriptRuns(api, 'dep')).get(id)?.values() ?? [])];
    expect(counts).toHaveLength(COUNTING_RUNS);
    expect(counts.reduce((sum, n) => sum + n, 0)).toBeLessThanOrEqual(COUNTING_RUNS + 1);
  });

  it('comes back when killed while idle, with every acknowledged execution', async () => {
    await startExecution();
    await everyExecutionFinishes();
    await hardKillAndStartAgain();
    await startExecution();
    await everyExecutionFinishes();
    expect((await api.get(`${API}/executions?_size=100`)).body.metadata.pagination.total).toBe(
      acknowledged.length,
    );
  });

  it('comes back when killed right after a restart, five times in a row', async () => {
    for (let i = 0; i < 5; i++) await hardKillAndStartAgain();
    await startExecution();
    await everyExecutionFinishes();
  });
});

describe('a program that cannot be started again', () => {
  it("ends the container, so that Docker's restart policy decides", async () => {
    const container = await asPlanned(new GenericContainer('cosmo/aio:latest'), 'aio')
      .withExposedPorts(8080)
      .withWaitStrategy(aioReady())
      .withStartupTimeout(180_000)
      .start();
    const handle = docker.getContainer(container.getId());
    try {
      // The manager's start script can no longer run: every restart attempt fails until FATAL.
      expect((await container.exec(['chmod', '0644', '/usr/local/bin/aio-manager'])).exitCode).toBe(0);
      const pid = (await container.exec(['cat', '/run/cosmo-sv/manager/supervise/pid'])).output.trim();
      expect(pid).toMatch(/^\d+$/);
      await container.exec(['kill', '-9', pid]);
      const exited = await eventually('the container to exit', async () => {
        const state = (await handle.inspect()).State;
        return state.Running ? undefined : state;
      });
      expect(exited.Running).toBe(false);
      // Non-zero, so that `restart: on-failure` (the Swarm stack's policy) starts it again.
      expect(exited.ExitCode).toBe(1);
      const logs = (await handle.logs({ stdout: true, stderr: true })).toString();
      expect(logs).toContain(
        'cosmo-services: manager exited 3 times within 10 s of its start: it cannot be started',
      );
      expect(logs).toContain('cosmo-services: manager could not be started; exiting with code 1');
    } finally {
      await handle.remove({ force: true, v: true }).catch(() => {});
    }
  });
});

describe('compose/aio/compose.yaml', () => {
  it('comes up healthy as checked in', async () => {
    // Only the published port moves (a platform started by `cosmo up` may hold 8080); the rest is the
    // file as checked in.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cosmo-compose-'));
    await writeFile(
      path.join(dir, 'compose.yaml'),
      await readFile(path.join(REPO_ROOT, 'compose/aio/compose.yaml'), 'utf8'),
    );
    await writeFile(
      path.join(dir, 'port.yaml'),
      'services:\n  aio:\n    ports: !override\n      - "18088:8080"\n',
    );
    const environment = await new DockerComposeEnvironment(dir, ['compose.yaml', 'port.yaml'])
      .withWaitStrategy('aio-1', Wait.forHealthCheck())
      .withStartupTimeout(180_000)
      .up();
    try {
      const container = environment.getContainer('aio-1');
      const state = await docker.getContainer(container.getId()).inspect();
      expect(state.State.Health?.Status).toBe('healthy');
      expect(state.Config.Image).toBe('cosmo/aio:0.1.0');
      // compose/aio: no credentials given, so the container made its CA and certificate in its volume.
      trustCa((await container.exec(['cat', '/var/lib/cosmo/secrets/ca.crt'])).output);
      const ok = await fetch('https://127.0.0.1:18088/api/v3.1/ok');
      expect(await ok.text()).toBe('"OK"');
      // The copies of secrets made for each service's user are in memory, never in the writable layer.
      const mounts = (await container.exec(['cat', '/proc/mounts'])).output;
      for (const dir of ['/run/cosmo', '/run/postgresql', '/run/rabbitmq-root']) {
        expect(mounts).toMatch(new RegExp(`^tmpfs ${dir} tmpfs`, 'm'));
      }
      expect(state.HostConfig.Memory).toBe(2 * 1024 ** 3);
    } finally {
      await environment.down({ removeVolumes: true });
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('passes docker compose config -q', async () => {
    const code = await new Promise<number>((resolve) =>
      execFile(
        'docker',
        ['compose', '-f', path.join(REPO_ROOT, 'compose/aio/compose.yaml'), 'config', '-q'],
        (error) => resolve(error ? 1 : 0),
      ),
    );
    expect(code).toBe(0);
  });
});

describe('cosmo up, status, down', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cosmo-up-'));
  });
  afterAll(async () => {
    if (existsSync(path.join(dir, 'cosmo.yaml'))) await cosmo(['down', '--volumes'], { cwd: dir });
    await rm(dir, { recursive: true, force: true });
  });

  it('brings the platform up, reports it, and leaves no container, network or volume behind', async () => {
    const init = await cosmo(['init', '--name', 'cosmo-itest-up', '--port', '18089'], { cwd: dir });
    expect(init.code).toBe(0);

    const up = await cosmo(['up'], { cwd: dir });
    expect(up.stderr).not.toContain('cosmo:');
    expect(up.code).toBe(0);
    expect(up.stdout).toContain('Cosmo is up');
    expect(up.stdout).toContain('https://localhost:18089/api/v3.1');
    expect(up.stdout).toContain(`password: in ${path.join(dir, 'secrets/admin_password')}`);

    const status = await cosmo(['status', '--json'], { cwd: dir });
    expect(status.code).toBe(0);
    const body = JSON.parse(status.stdout);
    expect(body.status).toBe('OK');
    expect(Object.keys(body.services).sort()).toEqual(['broker', 'db', 'manager']);
    const table = await cosmo(['status'], { cwd: dir });
    expect(table.stdout).toMatch(/^cluster: OK\nSERVICE\s+NODE\s+STATUS\s+FAILURES\nmanager\s+aio\s+OK/);

    const down = await cosmo(['down', '--volumes'], { cwd: dir });
    expect(down.code).toBe(0);
    const project = 'com.docker.compose.project=cosmo-itest-up';
    expect(await docker.listContainers({ all: true, filters: { label: [project] } })).toEqual([]);
    expect(await docker.listNetworks({ filters: { label: [project] } })).toEqual([]);
    expect((await docker.listVolumes({ filters: { label: [project] } })).Volumes ?? []).toEqual([]);
  });
});

describe('a second project folder on the same volume (same project name, other credentials)', () => {
  const name = 'cosmo-itest-second';
  const port = 18094;
  const dirs: string[] = [];
  const folder = async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cosmo-second-'));
    dirs.push(dir);
    const init = await cosmo(['init', '--name', name, '--port', String(port)], { cwd: dir });
    expect(init.code).toBe(0);
    return dir;
  };
  const login = async (dir: string) => {
    const password = (await readFile(path.join(dir, 'secrets/admin_password'), 'utf8')).trim();
    await trustProjectCa(dir);
    return client(`https://127.0.0.1:${port}`, {
      authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`,
    });
  };
  afterAll(async () => {
    if (dirs[0]) await cosmo(['down', '--volumes'], { cwd: dirs[0] });
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("takes the data over with the new folder's credentials: database role, broker user and admin", async () => {
    const first = await folder();
    expect((await cosmo(['up'], { cwd: first })).code).toBe(0);
    const firstApi = await login(first);
    const upload = await firstApi.raw('PUT', `${API}/blueprints/kept`, {
      raw: BLUEPRINT,
      headers: { 'content-type': 'application/yaml' },
    });
    expect(upload.status).toBe(201);
    expect((await cosmo(['down'], { cwd: first })).code).toBe(0);

    const second = await folder();
    const secrets = async (dir: string) =>
      Promise.all(
        ['db_password', 'mq_password', 'admin_password'].map((f) =>
          readFile(path.join(dir, 'secrets', f), 'utf8'),
        ),
      );
    const [a, b] = [await secrets(first), await secrets(second)];
    for (const i of [0, 1, 2]) expect(b[i]).not.toBe(a[i]);
    const up = await cosmo(['up'], { cwd: second });
    expect(up.stderr).not.toContain('cosmo:');
    expect(up.code).toBe(0);
    // OK means the manager reached PostgreSQL and RabbitMQ with the second folder's passwords.
    const api = await login(second);
    expect((await api.get(`${API}/cluster-status`)).body.status).toBe('OK');
    expect((await api.get(`${API}/blueprints/kept`)).status).toBe(200);
    expect((await firstApi.get(`${API}/blueprints/kept`)).status).toBe(401);
    // An execution goes through the broker as the second folder's user, and finishes.
    expect((await api.put(`${API}/deployments/kept`, { blueprint_id: 'kept' })).status).toBe(201);
    const started = await api.post(`${API}/executions`, { deployment_id: 'kept', workflow_id: 'install' });
    expect(started.status).toBe(201);
    await eventually('the install to finish', async () =>
      (await api.get(`${API}/executions/${started.body.id}`)).body.status === 'terminated' ? true : undefined,
    );
  });

  it('stops `cosmo up` within seconds, with what the log says, when a container cannot start', async () => {
    const dir = dirs[1]!;
    expect((await cosmo(['down'], { cwd: dir })).code).toBe(0);
    await writeFile(path.join(dir, 'secrets/db_password'), 'two\nlines\n');
    const started = Date.now();
    const up = await cosmo(['up'], { cwd: dir });
    expect(up.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(up.stderr).toContain('it will not come up by waiting');
    expect(up.stderr).toContain('POSTGRES_PASSWORD_FILE must hold one line');
    expect(up.stdout).not.toContain('fetch failed');
    const status = await cosmo(['status'], { cwd: dir });
    expect(status.code).not.toBe(0);
    expect(status.stderr).toMatch(/does not answer .*\n\s+aio (running|restarting|exited)/);
  });
});

describe('docker compose up in the project folder', () => {
  let dir: string;
  afterAll(async () => {
    await run('docker', ['compose', 'down', '--volumes'], dir).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('starts what `cosmo init` wrote, under the project name of its name:', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cosmo-compose-up-'));
    const init = await cosmo(['init', '--name', 'cosmo-itest-plain', '--port', '18096'], { cwd: dir });
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('docker compose up -d');
    await run('docker', ['compose', 'up', '-d', '--wait', '--wait-timeout', '180'], dir);
    await trustProjectCa(dir);
    const ok = await fetch('https://127.0.0.1:18096/api/v3.1/ok');
    expect(await ok.text()).toBe('"OK"');
    const containers = await docker.listContainers({
      filters: { label: ['com.docker.compose.project=cosmo-itest-plain'] },
    });
    expect(containers.map((c) => c.Labels['com.docker.compose.service'])).toEqual(['aio']);
  });
});

describe('bad configuration and flags', () => {
  const VALID = 'version: 1\nmode: aio\n';
  // [description, cosmo.yaml content (undefined: none), arguments, message]
  const cases: [string, string | undefined, string[], string][] = [
    [
      'a port out of range',
      'modes:\n  aio:\n    port: 70000\n',
      ['generate'],
      'modes.aio.port: 70000 is not a port (1-65535)',
    ],
    ['a misspelt key', 'modes:\n  aio:\n    prot: 8080\n', ['generate'], 'modes.aio.prot: unknown key'],
    ['YAML that does not parse', 'mode: [aio\n', ['generate'], 'not valid YAML'],
    ['a mode that does not exist', 'mode: swarm\n', ['generate'], 'mode: "swarm" is not a mode'],
    [
      'a compact cluster without credential files',
      'mode: compact\n',
      ['generate'],
      'credentials.source: the compact mode shares its credentials between nodes; use files',
    ],
    [
      'a config version from the future',
      'version: 3\n',
      ['generate'],
      'version: 3 is not a supported config version',
    ],
    [
      'a project name with spaces',
      'name: "my cosmo"\n',
      ['generate'],
      'name: "my cosmo" is not a valid project name',
    ],
    [
      'an unknown credentials source',
      'credentials: {source: vault}\n',
      ['generate'],
      'credentials.source: "vault"',
    ],
    [
      'a bind address that is not one',
      'modes: {aio: {bind: localhost}}\n',
      ['generate'],
      'modes.aio.bind: "localhost" is not an IPv4 address',
    ],
    [
      'a memory limit without unit',
      'modes: {aio: {resources: {memory: "512"}}}\n',
      ['generate'],
      'modes.aio.resources.memory: "512"',
    ],
    [
      'external services in aio',
      'external: {queue: {hosts: [mq]}}\n',
      ['generate'],
      'external: the aio mode runs its own',
    ],
    ['a list instead of a mapping', '- mode: aio\n', ['generate'], 'must be a mapping'],
    [
      'an image registry that is a URL',
      'images: {registry: "https://reg"}\n',
      ['generate'],
      'images.registry',
    ],
    [
      'an unknown target',
      VALID,
      ['generate', '--target', 'kubernetes'],
      '--target kubernetes is not a target (use compose or swarm)',
    ],
    ['generate without cosmo.yaml', undefined, ['generate'], 'run `cosmo init`'],
    ['status without cosmo.yaml', undefined, ['status'], 'run `cosmo init`'],
    ['down without cosmo.yaml', undefined, ['down'], 'run `cosmo init`'],
    ['an unknown mode for init', undefined, ['init', '--mode', 'bogus'], '--mode bogus is not a mode'],
    [
      'init over an existing cosmo.yaml',
      VALID,
      ['init'],
      'already exist(s): keep them, or run cosmo init --force',
    ],
    [
      'logs of an unknown service',
      VALID,
      ['logs', 'postgres'],
      "no service 'postgres' in this aio platform (services: aio)",
    ],
    [
      'logs with a non-numeric --tail',
      VALID,
      ['logs', '--tail', 'ten'],
      '--tail ten is not a number of lines',
    ],
    [
      'up with a bad --timeout',
      VALID,
      ['up', '--timeout', 'soon'],
      '--timeout soon is not a number of seconds',
    ],
    ['an unknown command', undefined, ['frobnicate'], "unknown command 'frobnicate'"],
    ['an unknown option', VALID, ['generate', '--bogus'], "unknown option '--bogus'"],
    ['an unknown image', undefined, ['images', 'build', 'nope'], "unknown image 'nope'"],
  ];

  const listing = async (dir: string): Promise<string[]> =>
    (await readdir(dir, { recursive: true, withFileTypes: true }))
      .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
      .sort();

  it.each(cases)('refuses %s: exit 2, a message, nothing written', async (_name, config, args, message) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cosmo-bad-'));
    try {
      if (config !== undefined) await writeFile(path.join(dir, 'cosmo.yaml'), config);
      const before = await listing(dir);
      const result = await cosmo(args, { cwd: dir });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(message);
      expect(await listing(dir)).toEqual(before);
      if (config !== undefined) expect(await readFile(path.join(dir, 'cosmo.yaml'), 'utf8')).toBe(config);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
