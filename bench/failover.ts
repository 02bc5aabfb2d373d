/**
 * Distributed-cluster failover benchmark, on one host: `cosmo up` time to OK; the write gap (longest
 * time between two acknowledged writes through the load balancer) and lost acknowledged writes when
 * the database primary is hard-killed or gracefully stopped; executions lost or run twice when a queue
 * node is killed; failed requests when a manager is killed or stopped. Median of BENCH_RUNS (5) where
 * it is a time. Measures and records; never passes or fails. Run: pnpm bench:failover
 */

import { sleep } from '@cosmo/wait';
import {
  COUNTING_BLUEPRINT,
  COUNTING_RUNS,
  scriptRuns,
  totalRuns,
  uploadArchive,
} from '../test/support/blueprints.ts';
import {
  API,
  type Cluster,
  clusterState,
  failPrimary,
  missingWrites,
  queueFullyReplicated,
  startDistributed,
  startReader,
} from '../test/support/cluster.ts';
import { finishedExecution } from '../test/support/stack.ts';
import { median, record } from './record.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * One database failover: writes (one at a time) and reads of each acknowledged write (4 at a time)
 * through the LB, the primary killed or stopped, writes resumed.
 */
async function dbFailover(cluster: Cluster, how: 'kill' | 'stop', run: number) {
  await clusterState(cluster, 'OK');
  const { primary, report, reads, leadersAtFault } = await failPrimary(
    cluster,
    `bench-${how}-${run}-${Date.now()}`,
    (container) => (how === 'kill' ? container.kill({ signal: 'SIGKILL' }) : container.stop({ t: 40 })),
  );
  const lost = (await missingWrites(cluster, report.acknowledged)).length;
  await cluster.container(primary).start();
  log(
    `db ${how} #${run}: primary ${primary} (${leadersAtFault}), gap ${report.longestGapSeconds.toFixed(1)} s, ${report.acknowledged.length} acknowledged (${report.acknowledgedAfterFault} after the fault), ${lost} lost; reads ${reads.ok} ok, ${reads.failed} failed${reads.errors[0] ? ` (${reads.errors[0]})` : ''}, slowest read ${reads.slowestSeconds.toFixed(1)} s, slowest write ${report.slowestSeconds.toFixed(1)} s`,
  );
  return {
    gap: report.longestGapSeconds,
    lost,
    acknowledged: report.acknowledged.length,
    afterFault: report.acknowledgedAfterFault,
    leaders: leadersAtFault,
    readsOk: reads.ok,
    readsFailed: reads.failed,
    slowestRead: reads.slowestSeconds,
    slowestWrite: report.slowestSeconds,
  };
}

async function queueKill(cluster: Cluster, run: number) {
  await clusterState(cluster, 'OK');
  const node = `queue${(run % 3) + 1}`;
  // The quorum queue has its third member back (reconciled every 10 s) before one is killed.
  await queueFullyReplicated(cluster, node);
  const acknowledged: string[] = [];
  let running = true;
  let last = Date.now();
  let gap = 0;
  const submitter = (async () => {
    while (running) {
      const answer = await cluster.api
        .post(`${API}/executions`, { deployment_id: 'bench', workflow_id: 'install', force: true })
        .catch(() => undefined);
      if (answer?.status === 201) {
        acknowledged.push(answer.body.id);
        gap = Math.max(gap, Date.now() - last);
        last = Date.now();
      }
    }
  })();
  await sleep(2_000);
  await cluster.container(node).kill({ signal: 'SIGKILL' });
  await sleep(8_000);
  running = false;
  await submitter;
  let lost = 0;
  for (const id of acknowledged) {
    const done = await finishedExecution(cluster.api, id, 120_000).catch(() => undefined);
    if (done?.status !== 'terminated') lost++;
  }
  // Counted by the scripts themselves: an execution whose scripts ran more than once each ran twice.
  const runs = await scriptRuns(cluster.api, 'bench');
  const doubled = acknowledged.filter((id) => totalRuns(runs, id) !== COUNTING_RUNS).length;
  await cluster.container(node).start();
  log(
    `queue kill #${run}: ${node}, ${acknowledged.length} acknowledged, gap ${(gap / 1000).toFixed(2)} s, ${lost} lost, ${doubled} doubled`,
  );
  return { gap: gap / 1000, lost, doubled, acknowledged: acknowledged.length };
}

async function managerFault(cluster: Cluster, how: 'kill' | 'stop', run: number) {
  await clusterState(cluster, 'OK');
  const node = `manager${(run % 3) + 1}`;
  const reader = startReader(cluster);
  await sleep(1_000);
  if (how === 'kill') await cluster.container(node).kill({ signal: 'SIGKILL' });
  else await cluster.container(node).stop({ t: 30 });
  await sleep(5_000);
  const result = await reader.stop();
  await cluster.container(node).start();
  log(`manager ${how} #${run}: ${node}, ${result.ok} ok, ${result.failed} failed`);
  return result;
}

const ups: number[] = [];
for (let run = 1; run < RUNS; run++) {
  const extra = await startDistributed(`cosmo-bench-up${run}`, 18190 + run);
  ups.push(extra.upSeconds);
  log(`cosmo up #${run}: ${extra.upSeconds} s`);
  await extra.down();
}
const cluster = await startDistributed('cosmo-bench-failover', 18190);
ups.push(cluster.upSeconds);
log(`cosmo up #${RUNS}: ${cluster.upSeconds} s`);
try {
  await uploadArchive(cluster.api, 'bench', COUNTING_BLUEPRINT);
  await cluster.api.put(`${API}/deployments/bench`, { blueprint_id: 'bench' });

  const kills = [];
  const stops = [];
  const queues = [];
  const managerKills = [];
  const managerStops = [];
  for (let run = 1; run <= RUNS; run++) kills.push(await dbFailover(cluster, 'kill', run));
  for (let run = 1; run <= RUNS; run++) stops.push(await dbFailover(cluster, 'stop', run));
  for (let run = 1; run <= RUNS; run++) queues.push(await queueKill(cluster, run));
  for (let run = 1; run <= RUNS; run++) managerKills.push(await managerFault(cluster, 'kill', run));
  for (let run = 1; run <= RUNS; run++) managerStops.push(await managerFault(cluster, 'stop', run));

  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const verdict = (ok: boolean) => (ok ? 'met' : 'missed');
  const killGap = median(kills.map((k) => k.gap));
  const stopGap = median(stops.map((s) => s.gap));
  const lostWrites = sum([...kills, ...stops].map((k) => k.lost));
  const lostExecutions = sum(queues.map((q) => q.lost));
  const doubled = sum(queues.map((q) => q.doubled));
  const failedKill = sum(managerKills.map((m) => m.failed));
  const failedStop = sum(managerStops.map((m) => m.failed));
  const up = median(ups);
  const runsOf = (values: number[]) => values.map((v) => v.toFixed(1)).join(', ');
  // Each run with who led etcd and Patroni when the primary's container was hit.
  const withLeaders = (runs: { gap: number; leaders: string }[]) =>
    runs.map((r) => `${r.gap.toFixed(1)} (${r.leaders})`).join('; ');
  await record({
    name: 'failover',
    title: 'Distributed cluster: failover (one host, 3 db + 3 queue + 3 managers + LB)',
    command: 'pnpm bench:failover',
    columns: ['measure', 'result', 'runs', 'target', 'verdict'],
    rows: [
      [
        '`cosmo up` to cluster-status OK, images built (s, median)',
        up.toFixed(1),
        runsOf(ups),
        '<= 60',
        verdict(up <= 60),
      ],
      [
        'write gap, DB primary hard-killed (s, median)',
        killGap.toFixed(1),
        withLeaders(kills),
        '<= 22',
        verdict(killGap <= 22),
      ],
      [
        'write gap, DB primary stopped (s, median)',
        stopGap.toFixed(1),
        withLeaders(stops),
        '<= 3',
        verdict(stopGap <= 3),
      ],
      [
        'acknowledged writes lost (all DB runs)',
        lostWrites,
        `${sum([...kills, ...stops].map((k) => k.acknowledged))} acknowledged, ${sum([...kills, ...stops].map((k) => k.afterFault))} of them after the fault`,
        '0',
        verdict(lostWrites === 0),
      ],
      [
        'failed reads, DB primary hard-killed (GET of each acknowledged write)',
        sum(kills.map((k) => k.readsFailed)),
        `${sum(kills.map((k) => k.readsOk))} ok; slowest read ${Math.max(...kills.map((k) => k.slowestRead)).toFixed(1)} s, slowest write ${Math.max(...kills.map((k) => k.slowestWrite)).toFixed(1)} s`,
        '0',
        verdict(sum(kills.map((k) => k.readsFailed)) === 0),
      ],
      [
        'failed reads, DB primary stopped',
        sum(stops.map((s) => s.readsFailed)),
        `${sum(stops.map((s) => s.readsOk))} ok; slowest read ${Math.max(...stops.map((s) => s.slowestRead)).toFixed(1)} s`,
        '0',
        verdict(sum(stops.map((s) => s.readsFailed)) === 0),
      ],
      [
        'submission gap, queue node killed (s, median)',
        median(queues.map((q) => q.gap)).toFixed(2),
        runsOf(queues.map((q) => q.gap)),
        '-',
        '-',
      ],
      [
        'acknowledged executions lost / run twice, queue node killed',
        `${lostExecutions} / ${doubled}`,
        `${sum(queues.map((q) => q.acknowledged))} acknowledged`,
        '0 / 0',
        verdict(lostExecutions === 0 && doubled === 0),
      ],
      [
        'failed requests, a manager killed',
        failedKill,
        `${sum(managerKills.map((m) => m.ok))} ok`,
        '0',
        verdict(failedKill === 0),
      ],
      [
        'failed requests, a manager stopped',
        failedStop,
        `${sum(managerStops.map((m) => m.ok))} ok`,
        '0',
        verdict(failedStop === 0),
      ],
    ],
    notes: [
      'Write gap: the longest time without an acknowledged write (PUT /blueprints, one at a time through HAProxy) around the fault, the time from the last acknowledgement to the end of the run included; every acknowledged write is then looked up.',
      'Failed reads: 4 parallel clients GET /blueprints/<id> through HAProxy, newest acknowledged write first, from 2 s before the fault until 3 s after a new primary answers. Without a primary the managers read from the synchronous standby (synchronous_commit = remote_apply); writes wait up to 5 s for the new primary, then answer 503 naming the failover.',
      "A hard kill leaves Patroni's leader key to expire (ttl 20 s, Patroni's minimum) before a standby may promote; a graceful stop hands the key over at once. Each member keeps etcd's leader off the Patroni primary (cosmo-db-etcd-leader): a node dying with both would add etcd's election to the key's ttl, since a new etcd leader renews every lease. Each run is listed with who led etcd and Patroni at the fault.",
      'Manager faults: GET /status from 4 parallel clients through HAProxy for 1 s before and 5 s after the fault.',
      `Executions here run a script per operation (two nodes, 6 scripts) that marks each run in a runtime property of its own: "run twice" counts executions whose scripts ran more than 6 times; ${RUNS} runs of each fault.`,
    ],
    raw: { ups, kills, stops, queues, managerKills, managerStops },
  });
} finally {
  await cluster.down();
}
