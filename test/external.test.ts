/**
 * Clusters whose database and queue are external, as an operator sets them up (`cosmo init
 * --external-db URL --external-queue URL`, the passwords written in the files init names, `cosmo
 * up`): no database or queue members run, the managers connect to the external services, and
 * cluster-status shows them `is_external` with their state measured live.
 *
 * A plain cosmo/postgres and cosmo/rabbitmq stand in for the managed services. The distributed
 * cluster reaches them over TLS, each certificate checked against a CA made for the run
 * (sslmode verify-full, amqps); the compact cluster uses its own database and vhost, unencrypted.
 * What differs from managed services: they run as containers on the clusters' own networks (the
 * test creates each `<project>_default` network first, with compose's labels, and attaches the
 * stand-ins), where a real one is reached by a routable address.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { psql } from './support/aio.ts';
import { cosmo } from './support/cli.ts';
import {
  type Cluster,
  clusterState,
  docker,
  installThrough,
  removeProject,
  startCluster,
} from './support/cluster.ts';
import { asPlanned } from './support/privileges.ts';

const run = promisify(execFile);
const DIST = 'cosmo-itest-extd';
const COMPACT = 'cosmo-itest-extc';
const DB_PASSWORD = `db-${Math.random().toString(36).slice(2)}`;
const MQ_PASSWORD = `mq-${Math.random().toString(36).slice(2)}`;

let tls: string;
let pgTls: StartedTestContainer;
let pgPlain: StartedTestContainer;
let mq: StartedTestContainer;
let distributed: Cluster;
let compact: Cluster;

/**
 * A CA and one server certificate for the names the stand-ins answer to (pg, mq); and another CA
 * (other-ca.pem) that signed nothing here, for the managers that must refuse them.
 */
async function makeCertificates(dir: string): Promise<void> {
  const openssl = (args: string[]) => run('openssl', args, { cwd: dir });
  const makeCa = (name: string) =>
    openssl(
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=cosmo-test-ca'].concat([
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.pem`,
      ]),
    );
  await makeCa('other-ca');
  await makeCa('ca');
  await openssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=pg',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  ]);
  await writeFile(path.join(dir, 'san.ext'), 'subjectAltName=DNS:pg,DNS:mq\n');
  await openssl(
    ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
      '-days',
      '2',
      '-extfile',
      'san.ext',
      '-out',
      'server.crt',
    ]),
  );
}

/** The network compose will use for a project, made first so that the stand-ins can be on it. */
async function projectNetwork(project: string): Promise<string> {
  const name = `${project}_default`;
  await docker
    .getNetwork(name)
    .remove()
    .catch(() => {});
  await docker.createNetwork({
    Name: name,
    Labels: { 'com.docker.compose.network': 'default', 'com.docker.compose.project': project },
  });
  return name;
}

const file = async (name: string, target: string, mode = 0o444) => ({
  content: await readFile(path.join(tls, name)),
  target,
  mode,
});

async function startPostgres(network: string, withTls: boolean): Promise<StartedTestContainer> {
  const container = new GenericContainer('cosmo/postgres:latest')
    .withNetworkMode(network)
    .withNetworkAliases('pg')
    .withCopyContentToContainer([{ content: DB_PASSWORD, target: '/run/secrets/db', mode: 0o400 }])
    .withEnvironment({ POSTGRES_PASSWORD_FILE: '/run/secrets/db' })
    .withWaitStrategy(Wait.forHealthCheck())
    .withStartupTimeout(120_000);
  if (!withTls) return container.start();
  // PostgreSQL reads its key only when the server's user owns it, readable by none else.
  return container
    .withCopyContentToContainer(
      await Promise.all([file('server.crt', '/tls/server.crt'), file('server.key', '/tls/server.key')]),
    )
    .withEntrypoint(['bash', '-c'])
    .withCommand([
      'install -d -o postgres -m 0700 /run/pg-tls && install -o postgres -m 0600 /tls/server.crt /tls/server.key /run/pg-tls/ && ' +
        'exec /usr/bin/tini -- /usr/local/bin/postgres-entrypoint postgres -c ssl=on ' +
        '-c ssl_cert_file=/run/pg-tls/server.crt -c ssl_key_file=/run/pg-tls/server.key',
    ])
    .start();
}

beforeAll(async () => {
  tls = await mkdtemp(path.join(os.tmpdir(), 'cosmo-itest-tls-'));
  await makeCertificates(tls);
  const [distNet, compactNet] = await Promise.all([projectNetwork(DIST), projectNetwork(COMPACT)]);
  [pgTls, pgPlain, mq] = await Promise.all([
    startPostgres(distNet, true),
    startPostgres(compactNet, false),
    // One broker for both: AMQP on 5672 and AMQPS on 5671; each cluster has its own vhost.
    new GenericContainer('cosmo/rabbitmq:latest')
      .withNetworkMode(distNet)
      .withNetworkAliases('mq')
      .withCopyContentToContainer([
        { content: MQ_PASSWORD, target: '/run/secrets/mq', mode: 0o444 },
        await file('ca.pem', '/tls/ca.pem'),
        await file('server.crt', '/tls/server.crt'),
        await file('server.key', '/tls/server.key'),
        {
          content: [
            'listeners.ssl.default = 5671',
            'ssl_options.cacertfile = /tls/ca.pem',
            'ssl_options.certfile = /tls/server.crt',
            'ssl_options.keyfile = /tls/server.key',
            'ssl_options.verify = verify_none',
            '',
          ].join('\n'),
          target: '/etc/rabbitmq/conf.d/20-tls.conf',
          mode: 0o444,
        },
      ])
      .withEnvironment({ RABBITMQ_PASSWORD_FILE: '/run/secrets/mq' })
      .withWaitStrategy(Wait.forListeningPorts())
      .withExposedPorts(5671, 5672)
      .withStartupTimeout(120_000)
      .start(),
  ]);
  await docker.getNetwork(compactNet).connect({ Container: mq.getId(), EndpointConfig: { Aliases: ['mq'] } });
  for (const vhost of ['distributed', 'compact']) {
    for (const command of [
      ['rabbitmqctl', 'add_vhost', vhost],
      ['rabbitmqctl', 'set_permissions', '-p', vhost, 'cosmo', '.*', '.*', '.*'],
    ]) {
      const result = await mq.exec(command);
      if (result.exitCode !== 0) throw new Error(`${command.join(' ')}: ${result.output}`);
    }
  }

  const supply = (files: Record<string, string>) => async (dir: string) => {
    for (const [name, content] of Object.entries(files)) {
      await writeFile(path.join(dir, name), content, { mode: 0o600 });
    }
  };
  [distributed, compact] = await Promise.all([
    startCluster('distributed', DIST, 18094, {
      initArgs: [
        '--external-db',
        'postgresql://cosmo@pg:5432/cosmo?sslmode=verify-full&sslrootcert=ca.pem',
        '--external-queue',
        'amqps://cosmo@mq:5671/distributed?cacertfile=ca.pem',
      ],
      prepare: supply({
        'secrets/external_db_password': DB_PASSWORD,
        'secrets/external_queue_password': MQ_PASSWORD,
        'ca.pem': await readFile(path.join(tls, 'ca.pem'), 'utf8'),
      }),
    }),
    startCluster('compact', COMPACT, 18095, {
      initArgs: [
        '--external-db',
        'postgresql://cosmo@pg/cosmo?sslmode=disable',
        '--external-queue',
        'amqp://cosmo@mq/compact',
      ],
      prepare: supply({
        'secrets/external_db_password': DB_PASSWORD,
        'secrets/external_queue_password': MQ_PASSWORD,
      }),
    }),
  ]);
});

afterAll(async () => {
  // The stand-ins first: compose removes a project's network only once nothing else is on it.
  await Promise.allSettled([pgTls?.stop(), pgPlain?.stop(), mq?.stop()]);
  await Promise.allSettled([distributed?.down(), compact?.down()]);
  await Promise.allSettled([DIST, COMPACT].map(removeProject));
  if (tls) await rm(tls, { recursive: true, force: true });
});

async function runsAnExecution(cluster: Cluster): Promise<void> {
  const done = await installThrough(
    cluster.api,
    'tosca_definitions_version: x\nnode_templates:\n  a: {type: t}\n',
  );
  expect(done.status).toBe('terminated');
}

describe('a distributed cluster on an external database and queue, over verified TLS', () => {
  it('runs only managers and the LB, and reports both services external and OK', async () => {
    const body = await clusterState(distributed, 'OK');
    expect(body.services.db).toEqual({ is_external: true, status: 'OK' });
    expect(body.services.broker).toEqual({ is_external: true, status: 'OK' });
    expect(Object.keys(body.services.manager.nodes).sort()).toEqual(['manager1', 'manager2', 'manager3']);
    const containers = await docker.listContainers({ filters: { label: [`io.cosmo.project=${DIST}`] } });
    expect(containers.map((c) => c.Labels['io.cosmo.role']).sort()).toEqual([
      'lb',
      'manager',
      'manager',
      'manager',
    ]);
  });

  it('talks TLS to both: PostgreSQL lists the managers’ connections as encrypted, RabbitMQ as amqps', async () => {
    const encrypted = await psql(
      pgTls,
      "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE usename = 'cosmo' AND ssl",
    );
    expect(Number(encrypted)).toBeGreaterThanOrEqual(3);
    const connections = await mq.exec([
      'rabbitmqctl',
      'list_connections',
      '-q',
      'vhost',
      'ssl',
      '--formatter',
      'json',
    ]);
    const list = JSON.parse(connections.stdout) as { vhost: string; ssl: boolean }[];
    const ours = list.filter((c) => c.vhost === 'distributed');
    expect(ours.length).toBeGreaterThanOrEqual(3);
    expect(ours.every((c) => c.ssl)).toBe(true);
  });

  it('runs an execution through the external queue', async () => {
    await runsAnExecution(distributed);
  });
});

describe('a manager refuses an external service whose certificate it cannot verify', () => {
  /**
   * Starts a manager on the distributed cluster's network with the right passwords and `env` over
   * the defaults (both services right, over verified TLS); waits for a log line matching `expected`.
   */
  async function managerRefuses(env: Record<string, string>, expected: RegExp): Promise<string> {
    const container = await asPlanned(new GenericContainer('cosmo/manager:latest'), 'manager')
      .withNetworkMode(`${DIST}_default`)
      .withCopyContentToContainer([
        { content: DB_PASSWORD, target: '/run/secrets/db', mode: 0o400 },
        { content: MQ_PASSWORD, target: '/run/secrets/mq', mode: 0o400 },
        await file('ca.pem', '/tls/ca.pem'),
        await file('other-ca.pem', '/tls/other-ca.pem'),
      ])
      .withEnvironment({
        COSMO_DB_HOST: 'pg',
        COSMO_DB_PASSWORD_FILE: '/run/secrets/db',
        COSMO_DB_SSLMODE: 'verify-full',
        COSMO_DB_CA_FILE: '/tls/ca.pem',
        COSMO_MQ_HOSTS: 'mq:5671',
        COSMO_MQ_VHOST: 'distributed',
        COSMO_MQ_PASSWORD_FILE: '/run/secrets/mq',
        COSMO_MQ_TLS: 'true',
        COSMO_MQ_CA_FILE: '/tls/ca.pem',
        ...env,
      })
      // Never healthy (that is the point): started once its log shows the refusal.
      .withWaitStrategy(Wait.forLogMessage(expected))
      .withStartupTimeout(60_000)
      .start();
    try {
      return (await docker.getContainer(container.getId()).logs({ stdout: true, stderr: true })).toString();
    } finally {
      await container.stop({ timeout: 1 });
    }
  }
  const addressOf = async (container: StartedTestContainer) =>
    (await docker.getContainer(container.getId()).inspect()).NetworkSettings.Networks[`${DIST}_default`]!
      .IPAddress;

  it('the database: a certificate another CA signed, and one that does not name the host', async () => {
    const log = await managerRefuses(
      { COSMO_DB_CA_FILE: '/tls/other-ca.pem' },
      /waiting for the database: .*certificate/,
    );
    expect(log).toMatch(/self[- ]signed certificate|unable to verify/);
    expect(log).not.toMatch(/REST API on/);
    // The same certificate reached by an address it does not list.
    const byAddress = await managerRefuses(
      { COSMO_DB_HOST: await addressOf(pgTls) },
      /waiting for the database: .*(does not match|not in the cert)/,
    );
    expect(byAddress).not.toMatch(/REST API on/);
  });

  it('the queue: a certificate another CA signed, and one that does not name the host', async () => {
    const log = await managerRefuses({ COSMO_MQ_CA_FILE: '/tls/other-ca.pem' }, /broker mq:5671 unreachable/);
    expect(log).toMatch(/broker mq:5671 unreachable \(.*(self[- ]signed certificate|unable to verify)/);
    expect(log).not.toMatch(/connected to broker/);
    const address = await addressOf(mq);
    const byAddress = await managerRefuses(
      { COSMO_MQ_HOSTS: `${address}:5671` },
      new RegExp(`broker ${address.replaceAll('.', '\\.')}:5671 unreachable`),
    );
    expect(byAddress).toMatch(/does not match|not in the cert/);
    expect(byAddress).not.toMatch(/connected to broker/);
  });
});

describe('a compact cluster on an external database and queue', () => {
  it('runs only the managers on its nodes, and reports both services external and OK', async () => {
    const body = await clusterState(compact, 'OK');
    expect(body.services.db).toEqual({ is_external: true, status: 'OK' });
    expect(body.services.broker).toEqual({ is_external: true, status: 'OK' });
    expect(Object.keys(body.services.manager.nodes).sort()).toEqual(['node1', 'node2', 'node3']);
    const processes = await docker.getContainer(`${COMPACT}-node1-1`).top({ ps_args: '-eo pid,args' });
    const commands = processes.Processes.map((p: string[]) => p[1]).join('\n');
    expect(commands).toContain('manager.mjs');
    expect(commands).not.toMatch(/patroni|etcd|beam\.smp|postgres:/);
  });

  it('runs an execution', async () => {
    await runsAnExecution(compact);
  });

  it('names the refusal when the external database rejects the password', async () => {
    expect((await cosmo(['down'], { cwd: compact.dir })).code).toBe(0);
    await writeFile(path.join(compact.dir, 'secrets/external_db_password'), 'not-the-password', {
      mode: 0o600,
    });
    const up = await cosmo(['up', '--timeout', '25'], { cwd: compact.dir });
    expect(up.code).not.toBe(0);
    expect(`${up.stdout}\n${up.stderr}`).toContain('password authentication failed for user "cosmo"');
  });
});
