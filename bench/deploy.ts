/**
 * `cosmo deploy` on a 3-host Swarm (test/support/swarm.ts: three engines in containers and a registry
 * on one machine): time from the command's start to cluster-status OK through the LB, for the compact
 * mode on a fresh Swarm each run (an empty registry and hosts with no images: the push and every
 * host's pull are in the figure), with where the time went; then a second deploy (nothing changed)
 * and `cosmo remove --volumes --yes`. Median of BENCH_RUNS (3). Measures and records; never passes
 * or fails. Run: pnpm bench:deploy
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { cosmo } from '../test/support/cli.ts';
import { startSwarm } from '../test/support/swarm.ts';
import { median, record } from './record.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const log = (line: string) => process.stderr.write(`${line}\n`);
const seconds = (from: number) => (performance.now() - from) / 1000;

interface Run {
  deploy: number;
  push: number;
  /** From the first task the stack deploy created to the last one running, in seconds (the Swarm's timestamps). */
  tasksRunning: number;
  again: number;
  remove: number;
}

/** Seconds from the earliest task's creation to the latest running task's start (Swarm's own clock). */
async function taskStartSpan(manager: Docker): Promise<number> {
  const tasks = (await manager.listTasks({ filters: JSON.stringify({ 'desired-state': ['running'] }) })) as {
    CreatedAt: string;
    Status: { State: string; Timestamp: string };
  }[];
  const running = tasks.filter((task) => task.Status.State === 'running');
  if (running.length === 0 || running.length !== tasks.length)
    throw new Error(`${tasks.length - running.length} of ${tasks.length} tasks not running at OK`);
  const created = Math.min(...tasks.map((task) => Date.parse(task.CreatedAt)));
  const started = Math.max(...running.map((task) => Date.parse(task.Status.Timestamp)));
  return (started - created) / 1000;
}

const runs: Run[] = [];
for (let run = 1; run <= RUNS; run++) {
  const swarm = await startSwarm('cosmo-bench-swarm');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cosmo-bench-deploy-'));
  try {
    const init = await cosmo(['init', '--mode', 'compact', '--name', 'bench', '--registry', swarm.registry], {
      cwd: dir,
    });
    if (init.code !== 0) throw new Error(init.stderr);
    const args = ['deploy', '-H', swarm.hosts[0]!.endpoint, '--push-to', swarm.pushTo, '--timeout', '600'];
    let started = performance.now();
    const first = await cosmo([...args, '--label-nodes'], { cwd: dir, env: swarm.engineEnv });
    const deploy = seconds(started);
    if (first.code !== 0) throw new Error(`deploy failed:\n${first.stdout}\n${first.stderr}`);
    const push = [...first.stdout.matchAll(/^pushed .* \(([\d.]+) s\)$/gm)].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
    // Read from the Swarm itself, not from the progress lines (printed only on change or every 10 s):
    // from the first task's creation to the last running task's start.
    const tasksRunning = await taskStartSpan(swarm.hosts[0]!.docker);
    started = performance.now();
    const again = await cosmo(args, { cwd: dir, env: swarm.engineEnv });
    const againSeconds = seconds(started);
    if (again.code !== 0) throw new Error(`second deploy failed: ${again.stderr}`);
    started = performance.now();
    const removed = await cosmo(['remove', '-H', swarm.hosts[0]!.endpoint, '--volumes', '--yes'], {
      cwd: dir,
      env: swarm.engineEnv,
    });
    const remove = seconds(started);
    if (removed.code !== 0) throw new Error(`remove failed: ${removed.stderr}`);
    runs.push({ deploy, push, tasksRunning, again: againSeconds, remove });
    log(
      `run ${run}: deploy ${deploy.toFixed(1)} s (push ${push.toFixed(1)} s, tasks all running ${tasksRunning.toFixed(1)} s after the first was created), again ${againSeconds.toFixed(1)} s, remove ${remove.toFixed(1)} s`,
    );
  } finally {
    await swarm.remove();
    await rm(dir, { recursive: true, force: true });
  }
}

const med = (pick: (r: Run) => number) => median(runs.map(pick));
const list = (pick: (r: Run) => number) => runs.map((r) => pick(r).toFixed(1)).join(', ');
await record({
  name: 'deploy',
  title: '`cosmo deploy` onto a 3-host Swarm (compact mode)',
  command: 'pnpm bench:deploy',
  columns: ['measure', 'result', 'runs', 'target', 'verdict'],
  rows: [
    [
      '`cosmo deploy --label-nodes` to cluster-status OK, fresh Swarm and registry (s, median)',
      med((r) => r.deploy).toFixed(1),
      list((r) => r.deploy),
      'none set',
      'recorded',
    ],
    [
      'of which: pushing node and lb to the empty registry (s, median)',
      med((r) => r.push).toFixed(1),
      list((r) => r.push),
      '—',
      '—',
    ],
    [
      "of which: from the stack's first task created to its last task running, the Swarm's timestamps (s, median)",
      med((r) => r.tasksRunning).toFixed(1),
      list((r) => r.tasksRunning),
      '—',
      '—',
    ],
    [
      'a second `cosmo deploy`, nothing changed (s, median)',
      med((r) => r.again).toFixed(1),
      list((r) => r.again),
      '—',
      '—',
    ],
    [
      '`cosmo remove --volumes --yes` (s, median)',
      med((r) => r.remove).toFixed(1),
      list((r) => r.remove),
      '—',
      '—',
    ],
  ],
  notes: [
    'Each run starts three new cosmo/swarm-host containers (empty image stores) and a new cosmo/registry, so the push of cosmo/node (456 MB) and cosmo/lb and each host pulling them are in the deploy figure; the images were built before.',
    "The three hosts share this machine's two cores, disk and kernel: each host's pull and the three nodes' start compete for them, as they would not on real hosts.",
    'The rest of the deploy time is the cluster forming (etcd, Patroni, RabbitMQ, the managers) and the LB seeing a healthy manager.',
  ],
  raw: { runs },
});
