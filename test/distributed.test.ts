/**
 * The distributed cluster on one host: 3 database nodes (PostgreSQL + Patroni + etcd), 3 queue
 * nodes (RabbitMQ), 3 managers behind HAProxy, brought up by `cosmo up` and shared by every fault
 * below. A client writes through the load balancer while members are killed or stopped; every write
 * it saw acknowledged must be there afterwards. Then the generated Swarm stack on a one-node Swarm.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sleep } from '@cosmo/wait';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, trustProjectCa } from './support/api.ts';
import {
  allAre,
  endpoints,
  erlangDistAttacks,
  etcdAttacks,
  expectErlangDistRefused,
  expectEtcdRefused,
  expectMemberTlsRefused,
  expectNoBackendReach,
  expectNoPrivilege,
  expectPatroniRefused,
  expectPrivilegedLoginsRefused,
  expectTlsRefused,
  memberTlsAttacks,
  NETWORK_PROBE,
  PRIVILEGE_PROBE,
  patroniAttacks,
  privilegedLoginAttacks,
  reachableAsManager,
  runAttack,
  secretFiles,
  tlsAttacks,
} from './support/attacks.ts';
import {
  COUNTING_BLUEPRINT,
  COUNTING_RUNS,
  scriptRuns,
  totalRuns,
  uploadArchive,
} from './support/blueprints.ts';
import { cfyFlow } from './support/cfy.ts';
import { cosmo, REPO_ROOT } from './support/cli.ts';
import {
  API,
  type ApiWriterReport,
  type Cluster,
  clusterState,
  docker,
  failoverShown,
  failPrimary,
  missingWrites,
  queueFullyReplicated,
  startApiWriter,
  startDistributed,
  startReader,
  submitDuring,
} from './support/cluster.ts';
import { eventually, finishedExecution } from './support/stack.ts';
import { execStdout } from './support/swarm.ts';

const run = promisify(execFile);
const NAME = 'cosmo-itest-dist';
/** What a blueprint's script must not reach: every database member's and queue member's ports. */
const BACKENDS = {
  db: endpoints(['db1', 'db2', 'db3'], [5432, 8008, 2379, 2380]),
  queue: endpoints(['queue1', 'queue2', 'queue3'], [5671, 5672, 4369, 25672]),
};

describe('the distributed cluster (compose, one host)', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startDistributed(NAME, 18090);
  });

  afterAll(async () => {
    await cluster?.down();
  });

  it('reaches OK with 3 managers, 3 database nodes and 3 queue nodes, each with its role and address', async () => {
    const body = await clusterState(cluster, 'OK');
    expect(Object.keys(body.services.manager.nodes).sort()).toEqual(['manager1', 'manager2', 'manager3']);
    expect(Object.keys(body.services.db.nodes).sort()).toEqual(['db1', 'db2', 'db3']);
    expect(Object.keys(body.services.broker.nodes).sort()).toEqual(['queue1', 'queue2', 'queue3']);
    const roles = Object.values(body.services.db.nodes).map((node: any) => node.services.role);
    expect(roles.sort()).toEqual(['leader', 'replica', 'sync_standby']);
    for (const node of Object.values(body.services.db.nodes) as any[]) {
      expect(node.private_ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(node.version).toMatch(/^17\./);
      expect(node.services).toMatchObject({ PostgreSQL: 'Active', Patroni: 'Active' });
    }
    // Brokers are checked over AMQP (a connection opened and closed), which gives their version.
    for (const node of Object.values(body.services.broker.nodes) as any[]) {
      expect(node.private_ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(node.version).toMatch(/^4\.\d+\.\d+/);
      expect(node.services).toEqual({ RabbitMQ: 'Active' });
    }
    const containers = await docker.listContainers({ filters: { label: [`io.cosmo.project=${NAME}`] } });
    const byRole = (role: string) => containers.filter((c) => c.Labels['io.cosmo.role'] === role).length;
    expect([byRole('manager'), byRole('db'), byRole('queue'), byRole('lb')]).toEqual([3, 3, 3, 1]);
  });

  it('runs an execution through the load balancer', async () => {
    const { api } = cluster;
    await api.raw('PUT', `${API}/blueprints/app`, {
      raw: 'tosca_definitions_version: x\nnode_templates:\n  vm: {type: t}\n  app: {type: t, relationships: [{type: r, target: vm}]}\n',
      headers: { 'content-type': 'application/yaml' },
    });
    expect((await api.put(`${API}/deployments/app`, { blueprint_id: 'app' })).status).toBe(201);
    const started = await api.post(`${API}/executions`, { deployment_id: 'app', workflow_id: 'install' });
    expect(started.status).toBe(201);
    const done = await eventually('the execution to finish', async () => {
      const { body } = await api.get(`${API}/executions/${started.body.id}`);
      return body.status === 'terminated' ? body : undefined;
    });
    expect(done.status).toBe('terminated');
  });

  // Cloudify's client, through the load balancer: every request may reach another manager.
  cfyFlow(() => cluster, 'cfy-');

  it("runs a blueprint's script with no capability, no way to root and no secret it can read", async () => {
    const targets = await secretFiles((cmd) => execStdout(docker, `${NAME}-manager1-1`, cmd));
    expect(targets).toContain('/run/secrets/db_password');
    const run = await runAttack(cluster.api, 'probe', PRIVILEGE_PROBE, { TARGETS: targets.join(' ') });
    expectNoPrivilege(run, targets);
  });

  it("cannot reach any database or queue member's back ends, which the manager's own user reaches", async () => {
    const manager = (cmd: string[]) => execStdout(docker, `${NAME}-manager1-1`, cmd);
    const needed = [
      ...endpoints(['db1', 'db2', 'db3'], [5432, 8008]),
      ...endpoints(['queue1', 'queue2', 'queue3'], [5671]),
    ];
    expect(await reachableAsManager(manager, needed)).toEqual(allAre(needed, 'open'));
    const backends = [...BACKENDS.db, ...BACKENDS.queue];
    expectNoBackendReach(
      await runAttack(cluster.api, 'reach', NETWORK_PROBE, { ENDPOINTS: backends.join(' ') }),
      backends,
    );
  });

  it('speaks HTTPS only through the load balancer and on each manager: plaintext, a wrong name and an impostor are refused', async () => {
    expect(cluster.url).toMatch(/^https:/);
    expectTlsRefused(await tlsAttacks(cluster.url));
    // A neighbour on the cluster's network speaking plain HTTP straight to a manager gets no answer.
    const plain = await execStdout(docker, `${NAME}-manager2-1`, [
      'bash',
      '-c',
      'exec 3<>/dev/tcp/manager1/8080; printf "GET /api/v3.1/ok HTTP/1.0\\r\\n\\r\\n" >&3; timeout 3 cat <&3; echo "[end]"',
    ]);
    expect(plain).not.toMatch(/HTTP\/1\.[01] 200/);
    expect(plain).toContain('[end]');
  });

  it("answers Patroni's REST API only to a client certificate of the platform's CA, over TLS", async () => {
    expectPatroniRefused(await patroniAttacks((cmd) => execStdout(docker, `${NAME}-manager2-1`, cmd), 'db1'));
  });

  it('lets into Erlang distribution only a node with a certificate of the CA, not one with the cookie alone', async () => {
    expectErlangDistRefused(
      await erlangDistAttacks((cmd) => execStdout(docker, `${NAME}-queue2-1`, cmd), 'queue1'),
    );
  });

  it('takes superuser and replication logins over the network only with a certificate of the CA beside the password', async () => {
    expectPrivilegedLoginsRefused(
      await privilegedLoginAttacks((cmd) => execStdout(docker, `${NAME}-db2-1`, cmd), 'db1'),
    );
  });

  it("lets only etcd's own certificate into etcd: plaintext, no certificate and the platform CA's are refused", async () => {
    expectEtcdRefused(await etcdAttacks((cmd) => execStdout(docker, `${NAME}-db2-1`, cmd), 'db1'));
  });

  it('takes only TLS on PostgreSQL and AMQP: plaintext, a wrong name and another CA are refused', async () => {
    const attempts = await memberTlsAttacks(
      (cmd) => execStdout(docker, `${NAME}-db2-1`, cmd),
      (cmd) => execStdout(docker, `${NAME}-manager2-1`, cmd),
      { db: 'db1', queue: 'queue1' },
    );
    expectMemberTlsRefused(attempts);
  });

  it('believes X-Forwarded-For only from the load balancer: a client reaching a manager directly cannot spoof its way past the lock-out', async () => {
    // From another container on the network (manager2's), straight to manager1, a new forged address
    // with each wrong password: the failures still count against the real address, which must wait.
    const script = `
      const statuses = [];
      for (let i = 0; i < 7; i++) {
        const answer = await fetch('https://manager1:8080/api/v3.1/status', {
          headers: { authorization: 'Basic ' + btoa('admin:wrong-' + i), 'x-forwarded-for': '198.51.100.' + i },
        });
        statuses.push(answer.status);
      }
      console.log(statuses.join(' '));`;
    // The manager holds no CA file to check manager1 with; what is tested here is the forwarded address.
    const out = await execStdout(docker, `${NAME}-manager2-1`, [
      'env',
      'NODE_TLS_REJECT_UNAUTHORIZED=0',
      'node',
      '--input-type=module',
      '-e',
      script,
    ]);
    expect(out.trim()).toBe('401 401 401 401 401 429 429');
  });

  it('keeps serving while a manager is killed, then stopped: no failed read, no failed write on a stop, no acknowledged write lost', async () => {
    const writes: ApiWriterReport[] = [];
    for (const [service, act, how] of [
      ['manager1', (c: any) => c.kill({ signal: 'SIGKILL' }), 'kill'],
      ['manager2', (c: any) => c.stop({ t: 30 }), 'stop'],
    ] as const) {
      const reader = startReader(cluster);
      // Two writers: at most two writes are in flight on the manager when it dies.
      const writer = startApiWriter(cluster, `mf-${how}`, 'app', 'app', 2);
      try {
        await sleep(1_000);
        await act(cluster.container(service));
        await sleep(5_000);
      } finally {
        const result = await reader.stop();
        const written = await writer.stop();
        writes.push(written);
        await cluster.container(service).start();
        expect(result.ok).toBeGreaterThan(0);
        expect({ service, failed: result.failed, errors: result.errors }).toEqual({
          service,
          failed: 0,
          errors: [],
        });
        expect(written.deployments.length).toBeGreaterThan(0);
        expect(written.executions.length).toBeGreaterThan(0);
        // A stop drains first: no write fails. A kill fails at most the writes in flight on it.
        if (how === 'stop')
          expect({ service, failed: written.failed, errors: written.errors }).toEqual({
            service,
            failed: 0,
            errors: [],
          });
        else expect(written.failed, written.errors.join('; ')).toBeLessThanOrEqual(2);
      }
    }
    // Every acknowledged write is there: each deployment, and each execution, which finishes.
    for (const written of writes) {
      for (const id of written.deployments)
        expect((await cluster.api.get(`${API}/deployments/${id}`)).status).toBe(200);
      for (const id of written.executions)
        expect((await finishedExecution(cluster.api, id, 120_000)).status).toBe('terminated');
    }
    await clusterState(cluster, 'OK');
  });

  it('removes a stopped manager at `cosmo managers remove`, and refuses to remove a live one', async () => {
    const live = await cosmo(['managers', 'remove', 'manager2'], { cwd: cluster.dir });
    expect(live.code).toBe(2);
    expect(live.stderr).toContain("manager 'manager2' sent a heartbeat");
    const unknown = await cosmo(['managers', 'remove', 'manager9'], { cwd: cluster.dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("manager 'manager9' not found");
    await cluster.container('manager3').stop({ t: 30 });
    try {
      // Silent for longer than the stale time (15 s): the cluster is Degraded until it is removed.
      await clusterState(cluster, 'Degraded', 60_000);
      const removed = await cosmo(['managers', 'remove', 'manager3'], { cwd: cluster.dir });
      expect(removed.stderr).toBe('');
      expect(removed.stdout).toContain('removed manager manager3');
      const body = await clusterState(cluster, 'OK', 30_000);
      expect(Object.keys(body.services.manager.nodes).sort()).toEqual(['manager1', 'manager2']);
    } finally {
      await cluster.container('manager3').start();
    }
    const back = await eventually('manager3 to be back in the cluster', async () => {
      const status = await cluster.status();
      return status?.status === 'OK' && status.services.manager.nodes.manager3 ? status : undefined;
    });
    expect(back.services.manager.nodes.manager3.status).toBe('OK');
  });

  it('loses no acknowledged execution when a queue node is killed while executions run', async () => {
    const { api } = cluster;
    expect((await uploadArchive(api, 'count', COUNTING_BLUEPRINT)).status).toBe(201);
    expect((await api.put(`${API}/deployments/count`, { blueprint_id: 'count' })).status).toBe(201);
    // Every member holds the quorum queue before one is killed (members join it within seconds).
    await queueFullyReplicated(cluster, 'queue1');
    // Its delivery limit and dead-letter queue come from the policy in cosmo/rabbitmq's definitions.
    const queues = JSON.parse(
      await execStdout(docker, `${NAME}-queue1-1`, [
        'rabbitmqctl',
        '-q',
        'list_queues',
        'name',
        'policy',
        '--formatter',
        'json',
      ]),
    ) as { name: string; policy: string }[];
    expect(queues.find((q) => q.name === 'cosmo.executions')?.policy).toBe('cosmo-executions');
    expect(queues.map((q) => q.name)).toContain('cosmo.executions.dead');
    let acknowledged: string[];
    // Every manager uses the first queue node: all of them lose their broker at once. Reads, which
    // need none, go on all the same (the LB falls back on managers that can still answer).
    const reader = startReader(cluster, 4, () => '/blueprints?_size=1');
    let reads: Awaited<ReturnType<typeof reader.stop>>;
    try {
      acknowledged = await submitDuring(api, 'count', async () => {
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        await cluster.container('queue1').kill({ signal: 'SIGKILL' });
        await new Promise((resolve) => setTimeout(resolve, 6_000));
      });
    } finally {
      reads = await reader.stop();
      await cluster.container('queue1').start();
    }
    expect(reads.ok).toBeGreaterThan(0);
    expect({ failed: reads.failed, errors: reads.errors }).toEqual({ failed: 0, errors: [] });
    expect(acknowledged.length).toBeGreaterThan(10);
    for (const id of acknowledged) {
      const done = await finishedExecution(api, id, 180_000);
      expect(done.status).toBe('terminated');
    }
    // Every script ran exactly once per execution: no worker died (only a broker), so a redelivered
    // message resumes after the last finished operation and runs nothing again.
    const runs = await scriptRuns(api, 'count');
    for (const id of acknowledged)
      expect({ id, runs: totalRuns(runs, id) }).toEqual({ id, runs: COUNTING_RUNS });
    await clusterState(cluster, 'OK');
  });

  for (const [how, act] of [
    ['killed (docker kill)', (c: any) => c.kill({ signal: 'SIGKILL' })],
    ['stopped (docker stop)', (c: any) => c.stop({ t: 40 })],
  ] as const) {
    it(`loses no acknowledged write and fails no read when the database primary is ${how}, and the old primary rejoins`, async () => {
      const killed = how.startsWith('killed');
      const { primary, report, reads } = await failPrimary(
        cluster,
        `w-${how.split(' ')[0]}`,
        act,
        // A hard kill leaves the cluster without a primary for the leader key's ttl: cluster-status
        // and `cosmo status` say so meanwhile.
        killed ? () => failoverShown(cluster) : undefined,
      );
      // Writes resumed on the new primary: some were sent after the fault and acknowledged.
      expect(report.acknowledgedAfterFault).toBeGreaterThan(0);
      expect(await missingWrites(cluster, report.acknowledged)).toEqual([]);
      // Reads went on: each acknowledged write read back, none failed.
      expect(reads.ok).toBeGreaterThan(0);
      expect({ failed: reads.failed, errors: reads.errors }).toEqual({ failed: 0, errors: [] });
      // Writes in the window were acknowledged or answered 503 naming the failover, never left hanging.
      expect(report.slowestSeconds).toBeLessThan(10);
      for (const error of report.errors) expect(error).toMatch(/^503 .*failover/);
      await cluster.container(primary).start();
      // The old primary rewinds and follows the new one.
      const body = await eventually(
        `${primary} to rejoin as a replica`,
        async () => {
          const status = await cluster.status();
          const role = status?.services?.db?.nodes?.[primary]?.services?.role;
          return status?.status === 'OK' && ['replica', 'sync_standby'].includes(role) ? status : undefined;
        },
        180_000,
        500,
      );
      expect(body.services.db.nodes[primary].status).toBe('OK');
    });
  }

  it('answers reads through the load balancer with every queue node stopped, and is OK once they are back', async () => {
    const queues = ['queue1', 'queue2', 'queue3'];
    try {
      await Promise.all(queues.map((queue) => cluster.container(queue).stop({ t: 30 })));
      // No manager has a broker (/ok fails on all): the LB sends to those that can still answer.
      const failed = await clusterState(cluster, 'Fail');
      expect(failed.services.broker.status).toBe('Fail');
      const reader = startReader(cluster, 4, () => '/blueprints?_size=1');
      await sleep(5_000);
      const reads = await reader.stop();
      expect(reads.ok).toBeGreaterThan(0);
      expect({ failed: reads.failed, errors: reads.errors }).toEqual({ failed: 0, errors: [] });
    } finally {
      await Promise.all(queues.map((queue) => cluster.container(queue).start()));
    }
    await clusterState(cluster, 'OK', 240_000);
  });

  it('is Degraded with one database node down, Fail with two (the API answers 503), OK once back', async () => {
    const primary = await cluster.primary();
    const [first, second] = ['db1', 'db2', 'db3'].filter((node) => node !== primary);
    try {
      await cluster.container(first!).stop({ t: 40 });
      await clusterState(cluster, 'Degraded');
      await cluster.container(second!).stop({ t: 40 });
      await refusesWrites();
    } finally {
      await Promise.all([cluster.container(first!).start(), cluster.container(second!).start()]);
    }
    await clusterState(cluster, 'OK');
  });

  /** Two database nodes down: cluster-status Fail, and a write answered 503 in the API's error format. */
  async function refusesWrites() {
    // Without a majority etcd refuses the leader key: the primary stops taking writes.
    const failed = await clusterState(cluster, 'Fail');
    expect(failed.services.db.status).toBe('Fail');
    const write = await eventually(
      'writes to be refused',
      async () => {
        const answer = await cluster.api.raw('PUT', `${API}/blueprints/refused`, {
          raw: 'tosca_definitions_version: x\nnode_templates:\n  vm: {type: t}\n',
          headers: { 'content-type': 'application/yaml' },
        });
        return answer.status === 503 ? answer : undefined;
      },
      90_000,
      1_000,
    );
    expect(write.body.error_code).toBe('service_unavailable_error');
  }

  it('keeps all its data when every container restarts', async () => {
    const before = (await cluster.api.get(`${API}/blueprints?_size=1`)).body.metadata.pagination.total;
    expect(before).toBeGreaterThan(0);
    const restart = await run('docker', ['compose', '-p', NAME, 'restart'], { cwd: cluster.dir });
    expect(restart.stderr).not.toMatch(/error/i);
    await clusterState(cluster, 'OK');
    expect((await cluster.api.get(`${API}/blueprints?_size=1`)).body.metadata.pagination.total).toBe(before);
  });

  // Last: the cluster's credentials change under it.
  it('answers a flood of failed logins from one address at the load balancer, then serves that address again', async () => {
    const stranger = client(cluster.url, {
      authorization: `Basic ${Buffer.from('nobody-here:wrong').toString('base64')}`,
    });
    const answers: { status: number; text: string }[] = [];
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        for (let i = 0; i < 20; i++) answers.push(await stranger.get(`${API}/version`));
      }),
    );
    // Every one refused; past 100 failures in 10 s, by the load balancer itself, in the API's format.
    expect(answers.every((a) => a.status === 401 || a.status === 429)).toBe(true);
    const atLb = answers.filter((a) => a.text.includes('too many failed logins from this address'));
    expect(atLb.length).toBeGreaterThan(0);
    expect(JSON.parse(atLb[0]!.text)).toMatchObject({ error_code: 'too_many_login_attempts_error' });
    // Once the rate falls, the address is served again (the admin from it included).
    await eventually(
      'the address to be served again',
      async () => ((await cluster.api.get(`${API}/version`)).status === 200 ? true : undefined),
      60_000,
      1_000,
    );
  });

  it('takes new credentials over on its data (cosmo down, new secret files, cosmo up): every member, data kept', async () => {
    const before = (await cluster.api.get(`${API}/blueprints?_size=1`)).body.metadata.pagination.total;
    const oldApi = cluster.api;
    // A token made with the old password: rotating the admin's password revokes it.
    const token = await cluster.api.post(`${API}/tokens`, {});
    expect(token.status).toBe(200);
    const withToken = client(cluster.url, { 'authentication-token': token.body.value });
    expect((await withToken.get(`${API}/blueprints?_size=1`)).status).toBe(200);
    expect((await cosmo(['down'], { cwd: cluster.dir })).code).toBe(0);
    const init = await cosmo(
      ['init', '--force', '--mode', 'distributed', '--name', NAME, '--port', '18090'],
      { cwd: cluster.dir },
    );
    expect(init.code).toBe(0);
    // --force also makes a new CA, which issues the API's new certificate.
    await trustProjectCa(cluster.dir);
    const up = await cosmo(['up', '--timeout', '240'], { cwd: cluster.dir });
    expect(up.stderr).not.toContain('cosmo:');
    expect(up.code).toBe(0);
    const password = (await readFile(path.join(cluster.dir, 'secrets/admin_password'), 'utf8')).trim();
    const api = client(cluster.url, {
      authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`,
    });
    // OK needs the managers on the database and every broker, and a synchronous standby streaming
    // from the primary: each with the new passwords.
    const status = await eventually('OK with the new credentials', async () => {
      const body = (await api.get(`${API}/cluster-status`)).body;
      return body?.status === 'OK' ? body : undefined;
    });
    expect(Object.keys(status.services.db.nodes)).toHaveLength(3);
    expect((await api.get(`${API}/blueprints?_size=1`)).body.metadata.pagination.total).toBe(before);
    expect((await oldApi.get(`${API}/blueprints?_size=1`)).status).toBe(401);
    expect((await withToken.get(`${API}/blueprints?_size=1`)).status).toBe(401);
  });
});

describe('compose/distributed and compose/compact files as checked in', () => {
  it.each(['distributed', 'compact'])(
    'compose/%s passes docker compose config -q and docker stack config',
    async (mode) => {
      const dir = path.join(REPO_ROOT, 'compose', mode);
      const scratch = await mkdtemp(path.join(os.tmpdir(), `cosmo-${mode}-files-`));
      try {
        // init writes the secrets the files name (and a compose.yaml of its own, replaced here).
        await cosmo(['init', '--mode', mode, '--dir', scratch, '--force']);
        for (const file of ['compose.yaml', 'stack.yaml']) {
          await writeFile(path.join(scratch, file), await readFile(path.join(dir, file), 'utf8'));
        }
        await run('docker', ['compose', '-f', path.join(scratch, 'compose.yaml'), 'config', '-q']);
        const { stdout } = await run('docker', ['stack', 'config', '-c', path.join(scratch, 'stack.yaml')]);
        expect(stdout).toContain('endpoint_mode: dnsrr');
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
  );
});

describe('cosmo generate in a project made before a secret existed', () => {
  it('generates the secret the folder lacks (0600) and rewrites none it has', async () => {
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'cosmo-upgrade-secrets-'));
    try {
      expect((await cosmo(['init', '--mode', 'compact', '--dir', scratch])).code).toBe(0);
      const secrets = path.join(scratch, 'secrets');
      const admin = await readFile(path.join(secrets, 'admin_password'), 'utf8');
      await rm(path.join(secrets, 'secrets_key'));
      const generated = await cosmo(['generate'], { cwd: scratch });
      expect(generated.code, generated.stderr).toBe(0);
      expect(generated.stdout).toContain(`generated ${path.join(secrets, 'secrets_key')} (mode 0600)`);
      expect((await stat(path.join(secrets, 'secrets_key'))).mode & 0o777).toBe(0o600);
      expect(await readFile(path.join(secrets, 'admin_password'), 'utf8')).toBe(admin);
      expect((await cosmo(['generate'], { cwd: scratch })).stdout).not.toContain('generated ');
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
});

/** Whatever a test reached: the stack removed, its containers gone, and its volumes deleted. */
async function removeStack(stack: string): Promise<void> {
  await run('docker', ['stack', 'rm', stack]).catch(() => {});
  const label = `com.docker.stack.namespace=${stack}`;
  await eventually(
    `the containers of stack ${stack} to be gone`,
    async () =>
      (await docker.listContainers({ all: true, filters: { label: [label] } })).length === 0
        ? true
        : undefined,
    120_000,
    1_000,
  ).catch(() => {});
  for (const volume of (await docker.listVolumes({ filters: { label: [label] } })).Volumes ?? []) {
    await docker
      .getVolume(volume.Name)
      .remove()
      .catch(() => {});
  }
}

describe('Swarm stacks on a one-node Swarm (distributed, then the All-in-One)', () => {
  const stack = 'cosmo-itest-swarm';
  let dir: string;
  let joined = false;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cosmo-swarm-'));
    const info = await docker.info();
    if (info.Swarm?.LocalNodeState !== 'active') {
      await docker.swarmInit({ ListenAddr: '127.0.0.1:2377', AdvertiseAddr: '127.0.0.1:2377' });
      joined = true;
    }
    const node = (await docker.listNodes())[0]!;
    const labels = Object.fromEntries(
      ['db1', 'db2', 'db3', 'queue1', 'queue2', 'queue3', 'manager', 'lb'].map((role) => [
        `io.cosmo.${role}`,
        'true',
      ]),
    );
    await docker
      .getNode(node.ID)
      .update({ version: node.Version.Index, ...node.Spec, Labels: { ...node.Spec.Labels, ...labels } });
  });

  afterAll(async () => {
    // Whatever the test reached: no stack, no volumes of it, and the engine out of the Swarm it joined.
    await removeStack(stack);
    if (joined) await docker.swarmLeave({ force: true }).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  it('deploys, reaches OK through the host-mode port, and leaves nothing after docker stack rm', async () => {
    expect((await cosmo(['init', '--mode', 'distributed'], { cwd: dir })).code).toBe(0);
    const config = await readFile(path.join(dir, 'cosmo.yaml'), 'utf8');
    await writeFile(path.join(dir, 'cosmo.yaml'), config.replaceAll('port: 8080', 'port: 18091'));
    expect((await cosmo(['generate', '--target', 'swarm', '-o', '.'], { cwd: dir })).code).toBe(0);
    await run('docker', ['stack', 'deploy', '-c', 'stack.yaml', stack], { cwd: dir });
    const password = (await readFile(path.join(dir, 'secrets/admin_password'), 'utf8')).trim();
    await trustProjectCa(dir);
    const api = client('https://127.0.0.1:18091', {
      authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`,
    });
    const body = await eventually(
      'the stack to report OK',
      async () => {
        const answer = await api.get(`${API}/cluster-status`);
        return answer.body?.status === 'OK' ? answer.body : undefined;
      },
      300_000,
      2_000,
    );
    expect(Object.keys(body.services.manager.nodes)).toHaveLength(3);

    // Swarm mounts secrets 0444 unless told: every one here is root's, 0400, and a script reads none.
    const managers = await docker.listContainers({
      filters: { label: [`com.docker.swarm.service.name=${stack}_manager`] },
    });
    const manager = managers[0]!.Id;
    const modes = (await execStdout(docker, manager, ['sh', '-c', 'stat -L -c "%u:%g %a" /run/secrets/*']))
      .trim()
      .split('\n');
    expect(modes.length).toBeGreaterThanOrEqual(3);
    expect(new Set(modes)).toEqual(new Set(['0:0 400']));
    const targets = await secretFiles((cmd) => execStdout(docker, manager, cmd));
    expect(targets).toContain('/run/secrets/admin_password');
    expectNoPrivilege(
      await runAttack(api, 'probe', PRIVILEGE_PROBE, { TARGETS: targets.join(' ') }),
      targets,
    );
    const backends = [...BACKENDS.db, ...BACKENDS.queue];
    expectNoBackendReach(
      await runAttack(api, 'reach', NETWORK_PROBE, { ENDPOINTS: backends.join(' ') }),
      backends,
    );

    await run('docker', ['stack', 'rm', stack]);
    const label = `com.docker.stack.namespace=${stack}`;
    await eventually(
      'the stack to be gone',
      async () =>
        (await docker.listContainers({ all: true, filters: { label: [label] } })).length === 0 &&
        (await docker.listServices({ filters: { label: [label] } })).length === 0 &&
        (await docker.listNetworks({ filters: { label: [label] } })).length === 0
          ? true
          : undefined,
      120_000,
      1_000,
    );
    // Volumes outlive a stack by design (docker stack rm keeps data); removed here by their label.
    for (const volume of (await docker.listVolumes({ filters: { label: [label] } })).Volumes ?? []) {
      await eventually(
        'a volume to be free',
        async () =>
          await docker
            .getVolume(volume.Name)
            .remove()
            .then(() => true)
            .catch(() => undefined),
      );
    }
    expect((await docker.listVolumes({ filters: { label: [label] } })).Volumes ?? []).toEqual([]);
  });

  it('runs the All-in-One stack, which answers on its host-mode port', async () => {
    const aioStack = 'cosmo-itest-aio-swarm';
    const aioDir = await mkdtemp(path.join(os.tmpdir(), 'cosmo-aio-swarm-'));
    try {
      expect((await cosmo(['init', '--port', '18092'], { cwd: aioDir })).code).toBe(0);
      expect((await cosmo(['generate', '--target', 'swarm', '-o', '.'], { cwd: aioDir })).code).toBe(0);
      await run('docker', ['stack', 'deploy', '-c', 'stack.yaml', aioStack], { cwd: aioDir });
      await trustProjectCa(aioDir);
      const ok = await eventually(
        'the All-in-One stack to answer /ok',
        async () => {
          const answer = await fetch('https://127.0.0.1:18092/api/v3.1/ok').catch(() => undefined);
          return answer?.status === 200 ? answer.text() : undefined;
        },
        180_000,
        1_000,
      );
      expect(ok).toBe('"OK"');
    } finally {
      await removeStack(aioStack);
      await rm(aioDir, { recursive: true, force: true });
    }
  });
});
