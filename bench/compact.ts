/**
 * Compact-cluster benchmark, on one host: `cosmo up` time to cluster-status OK (3 nodes, each running
 * a database member, a queue member and a manager, plus the LB), and the write gap (longest time
 * between two acknowledged writes through the load balancer) with lost acknowledged writes when the
 * whole node holding the database primary is killed. Median of BENCH_RUNS (5). Measures and records;
 * never passes or fails. Run: pnpm bench:compact
 */
import {
  clusterState,
  failPrimary,
  missingWrites,
  queueFullyReplicated,
  startCluster,
} from '../test/support/cluster.ts';
import { median, record } from './record.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const log = (line: string) => process.stderr.write(`${line}\n`);

const ups: number[] = [];
for (let run = 1; run < RUNS; run++) {
  const cluster = await startCluster('compact', `cosmo-bench-compact-${run}`, 18290);
  ups.push(cluster.upSeconds);
  log(`cosmo up #${run}: ${cluster.upSeconds} s`);
  await cluster.down();
}
const cluster = await startCluster('compact', 'cosmo-bench-compact', 18290);
ups.push(cluster.upSeconds);
log(`cosmo up #${RUNS}: ${cluster.upSeconds} s`);
try {
  const kills: {
    gap: number;
    lost: number;
    acknowledged: number;
    afterFault: number;
    leaders: string;
    readsOk: number;
    readsFailed: number;
  }[] = [];
  for (let run = 1; run <= RUNS; run++) {
    await clusterState(cluster, 'OK', 240_000);
    await queueFullyReplicated(cluster, 'node1');
    const { primary, report, reads, leadersAtFault } = await failPrimary(
      cluster,
      `bench-node-${run}-${Date.now()}`,
      (node) => node.kill({ signal: 'SIGKILL' }),
    );
    const lost = (await missingWrites(cluster, report.acknowledged)).length;
    await cluster.container(primary).start();
    kills.push({
      gap: report.longestGapSeconds,
      lost,
      acknowledged: report.acknowledged.length,
      afterFault: report.acknowledgedAfterFault,
      leaders: leadersAtFault,
      readsOk: reads.ok,
      readsFailed: reads.failed,
    });
    log(
      `node kill #${run}: ${primary} (${leadersAtFault}), gap ${report.longestGapSeconds.toFixed(1)} s, ${report.acknowledged.length} acknowledged (${report.acknowledgedAfterFault} after the kill), ${lost} lost; reads ${reads.ok} ok, ${reads.failed} failed${reads.errors[0] ? ` (${reads.errors[0]})` : ''}`,
    );
  }
  await clusterState(cluster, 'OK', 240_000);

  const verdict = (ok: boolean) => (ok ? 'met' : 'missed');
  const up = median(ups);
  const gap = median(kills.map((k) => k.gap));
  const lost = kills.reduce((sum, k) => sum + k.lost, 0);
  const acknowledged = kills.reduce((sum, k) => sum + k.acknowledged, 0);
  const afterFault = kills.reduce((sum, k) => sum + k.afterFault, 0);
  await record({
    name: 'compact',
    title: 'Compact cluster (one host, 3 nodes + LB)',
    command: 'pnpm bench:compact',
    columns: ['measure', 'result', 'runs', 'target', 'verdict'],
    rows: [
      [
        '`cosmo up` to cluster-status OK, images built (s, median)',
        up.toFixed(1),
        ups.map((s) => s.toFixed(1)).join(', '),
        '<= 45',
        verdict(up <= 45),
      ],
      [
        'write gap, node holding the DB primary killed (s, median)',
        gap.toFixed(1),
        // Each run with who led etcd and Patroni when the node was killed.
        kills.map((k) => `${k.gap.toFixed(1)} (${k.leaders})`).join('; '),
        '<= 22',
        verdict(gap <= 22),
      ],
      [
        'acknowledged writes lost (all runs)',
        String(lost),
        `${acknowledged} acknowledged, ${afterFault} of them after the kill`,
        '0',
        verdict(lost === 0),
      ],
      [
        'failed reads, node holding the DB primary killed (GET of each acknowledged write)',
        String(kills.reduce((sum, k) => sum + k.readsFailed, 0)),
        `${kills.reduce((sum, k) => sum + k.readsOk, 0)} ok`,
        '0',
        verdict(kills.every((k) => k.readsFailed === 0)),
      ],
    ],
    notes: [
      'Write gap: the longest time without an acknowledged write (PUT /blueprints, one at a time through HAProxy) around the kill, the time from the last acknowledgement to the end of the run included; every acknowledged write is then looked up.',
      "`cosmo up`: from the command's start (images checked, containers started) to cluster-status OK, as it prints it.",
      "A killed node takes its manager, its queue member and its etcd member with it; Patroni's leader key expires after its ttl (20 s, Patroni's minimum) before a standby may promote.",
      'The node is started again after each run and the cluster waited for until OK.',
      'Failed reads: 4 parallel clients GET /blueprints/<id> through HAProxy, newest acknowledged write first, from 2 s before the kill until 3 s after a new primary answers; the surviving managers read from the synchronous standby meanwhile.',
    ],
    raw: { ups, kills },
  });
} finally {
  await cluster.down();
}
