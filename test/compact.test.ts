/**
 * The compact cluster on one host, as a user brings it up (`cosmo init --mode compact`, `cosmo up`):
 * 3 nodes, each a cosmo/node container running a database member, a queue member and a manager,
 * behind the load balancer. It reaches OK, runs an execution through the LB, and loses no
 * acknowledged write when the whole node holding the database primary is killed; the node comes
 * back and the cluster returns to OK.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  memberTlsAttacks,
  NETWORK_PROBE,
  PRIVILEGE_PROBE,
  patroniAttacks,
  privilegedLoginAttacks,
  reachableAsManager,
  runAttack,
  secretFiles,
} from './support/attacks.ts';
import { COUNTING_BLUEPRINT, COUNTING_RUNS, scriptRuns, uploadArchive } from './support/blueprints.ts';
import {
  API,
  type Cluster,
  clusterState,
  docker,
  failPrimary,
  installThrough,
  missingWrites,
  queueFullyReplicated,
  startCluster,
  submitDuring,
} from './support/cluster.ts';
import { finishedExecution } from './support/stack.ts';
import { execStdout } from './support/swarm.ts';

const NAME = 'cosmo-itest-compact';
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster('compact', NAME, 18093);
});

afterAll(async () => {
  await cluster?.down();
});

describe('the compact cluster (compose, one host)', () => {
  it('reaches OK with 3 nodes, each a manager, a database member and a queue member', async () => {
    const body = await clusterState(cluster, 'OK');
    const nodes = ['node1', 'node2', 'node3'];
    expect(Object.keys(body.services.manager.nodes).sort()).toEqual(nodes);
    expect(Object.keys(body.services.db.nodes).sort()).toEqual(nodes);
    expect(Object.keys(body.services.broker.nodes).sort()).toEqual(nodes);
    const roles = Object.values(body.services.db.nodes).map((node: any) => node.services.role);
    expect(roles.sort()).toEqual(['leader', 'replica', 'sync_standby']);
    const containers = await docker.listContainers({ filters: { label: [`io.cosmo.project=${NAME}`] } });
    const byRole = (role: string) => containers.filter((c) => c.Labels['io.cosmo.role'] === role).length;
    expect([byRole('node'), byRole('lb')]).toEqual([3, 1]);
  });

  it('runs an execution through the load balancer', async () => {
    const done = await installThrough(
      cluster.api,
      'tosca_definitions_version: x\nnode_templates:\n  a: {type: t}\n  b: {type: t, relationships: [{type: r, target: a}]}\n',
    );
    expect(done.status).toBe('terminated');
    expect(done.error).toBe('');
  });

  it("runs a blueprint's script with no capability, no way to root and no secret it can read", async () => {
    // Every node holds every secret of the cluster (and the database member's copies in /run/cosmo-db).
    const targets = await secretFiles((cmd) => execStdout(docker, `${NAME}-node1-1`, cmd));
    expect(targets).toContain('/run/secrets/mq_erlang_cookie');
    const run = await runAttack(cluster.api, 'probe', PRIVILEGE_PROBE, { TARGETS: targets.join(' ') });
    expectNoPrivilege(run, targets);
  });

  it("cannot reach any node's database or queue ports, on loopback or across the network, which the manager's own user reaches", async () => {
    const nodes = ['node1', 'node2', 'node3'];
    const manager = (cmd: string[]) => execStdout(docker, `${NAME}-node1-1`, cmd);
    const needed = [...endpoints(nodes, [5432, 8008, 5671]), ...endpoints(['127.0.0.1'], [5432, 8008, 5671])];
    expect(await reachableAsManager(manager, needed)).toEqual(allAre(needed, 'open'));
    const backends = endpoints([...nodes, '127.0.0.1'], [5432, 8008, 2379, 2380, 5671, 5672, 4369, 25672]);
    expectNoBackendReach(
      await runAttack(cluster.api, 'reach', NETWORK_PROBE, { ENDPOINTS: backends.join(' ') }),
      backends,
    );
  });

  it("answers Patroni's REST API only to a client certificate of the platform's CA, over TLS", async () => {
    expectPatroniRefused(await patroniAttacks((cmd) => execStdout(docker, `${NAME}-node2-1`, cmd), 'node1'));
  });

  it('lets into Erlang distribution only a node with a certificate of the CA, not one with the cookie alone', async () => {
    expectErlangDistRefused(
      await erlangDistAttacks((cmd) => execStdout(docker, `${NAME}-node2-1`, cmd), 'node1'),
    );
  });

  it('takes superuser and replication logins over the network only with a certificate of the CA beside the password', async () => {
    expectPrivilegedLoginsRefused(
      await privilegedLoginAttacks((cmd) => execStdout(docker, `${NAME}-node2-1`, cmd), 'node1'),
    );
  });

  it("lets only etcd's own certificate into etcd: plaintext, no certificate and the platform CA's are refused", async () => {
    expectEtcdRefused(await etcdAttacks((cmd) => execStdout(docker, `${NAME}-node2-1`, cmd), 'node1'));
  });

  it('takes only TLS on PostgreSQL and AMQP: plaintext, a wrong name and another CA are refused', async () => {
    const node2 = (cmd: string[]) => execStdout(docker, `${NAME}-node2-1`, cmd);
    expectMemberTlsRefused(await memberTlsAttacks(node2, node2, { db: 'node1', queue: 'node1' }));
  });

  it('loses no acknowledged execution when a whole node (manager, queue member, database replica) is killed while executions run', async () => {
    const { api } = cluster;
    expect((await uploadArchive(api, 'count', COUNTING_BLUEPRINT)).status).toBe(201);
    expect((await api.put(`${API}/deployments/count`, { blueprint_id: 'count' })).status).toBe(201);
    await queueFullyReplicated(cluster, 'node1');
    const primary = await cluster.primary();
    const victim = ['node1', 'node2', 'node3'].find((node) => node !== primary)!;
    const acknowledged = await submitDuring(api, 'count', async () => {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await cluster.container(victim).kill({ signal: 'SIGKILL' });
      await new Promise((resolve) => setTimeout(resolve, 8_000));
    });
    expect(acknowledged.length).toBeGreaterThan(10);
    for (const id of acknowledged) {
      const done = await finishedExecution(api, id, 120_000);
      expect(done.status).toBe('terminated');
      // Run to its end once: an execution redelivered after the kill (its worker died with the node)
      // may run a step again, never the workflow's end twice.
      const events = (await api.get(`${API}/events?execution_id=${id}&_size=1000`)).body.items as {
        event_type: string;
        node_instance_id?: string;
        operation?: string;
      }[];
      expect(events.filter((e) => e.event_type === 'workflow_succeeded')).toHaveLength(1);
      const succeeded = events
        .filter((e) => e.event_type === 'operation_succeeded')
        .map((e) => `${e.node_instance_id}|${e.operation}`);
      expect(new Set(succeeded).size).toBe(succeeded.length);
    }
    // Counted by the scripts themselves: every operation ran, and only an operation whose worker died
    // under it ran again (once); the killed node's worker held at most 4 executions (its prefetch).
    const runs = await scriptRuns(api, 'count');
    let rerun = 0;
    for (const id of acknowledged) {
      const counts = [...(runs.get(id)?.values() ?? [])];
      expect({ id, operations: counts.length }).toEqual({ id, operations: COUNTING_RUNS });
      expect(counts.every((n) => n === 1 || n === 2)).toBe(true);
      const twice = counts.filter((n) => n === 2).length;
      expect(twice).toBeLessThanOrEqual(1);
      rerun += twice;
    }
    expect(rerun).toBeLessThanOrEqual(4);
    await cluster.container(victim).start();
    await clusterState(cluster, 'OK', 240_000);
  });

  it('loses no acknowledged write and fails no read when the node holding the database primary is killed, and the node comes back', async () => {
    // The node goes with its queue member: the executions queue must have its 3 members first.
    await queueFullyReplicated(cluster, 'node1');
    const { primary, report, reads } = await failPrimary(cluster, 'w-node', (node) =>
      node.kill({ signal: 'SIGKILL' }),
    );
    // Writes resumed on the new primary: some were sent after the fault and acknowledged.
    expect(report.acknowledgedAfterFault).toBeGreaterThan(0);
    expect(await missingWrites(cluster, report.acknowledged)).toEqual([]);
    // The surviving nodes' managers read from a standby meanwhile: every acknowledged write, no failure.
    expect(reads.ok).toBeGreaterThan(0);
    expect({ failed: reads.failed, errors: reads.errors }).toEqual({ failed: 0, errors: [] });
    // Writes in the window: acknowledged, or 503 naming the failover, none left hanging; but for the
    // one write that may have been in flight on the killed node's own manager.
    expect(report.slowestSeconds).toBeLessThan(10);
    expect(report.errors.filter((error) => !/^503 .*failover/.test(error)).length).toBeLessThanOrEqual(1);
    await cluster.container(primary).start();
    const body = await clusterState(cluster, 'OK', 240_000);
    expect(['replica', 'sync_standby']).toContain(body.services.db.nodes[primary].services.role);
  });
});
