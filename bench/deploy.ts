/**
 * `cosmo deploy` on a 3-host Swarm (test/support/swarm.ts: three engines in containers and a registry
 * on one machine): time from the command's start to cluster-status OK through the LB, for the compact
 * mode on a fresh Swarm each run (an empty registry and hosts with no images: the push and every
 * host's pull are in the figure), with where the time went; then a second deploy (nothing changed)
 * and, once per run, the host holding the database primary killed while clients write and read back
 * through another host's load balancer (failed reads, the write gap, lost writes); then `cosmo remove
 * --volumes --yes`. Median of BENCH_RUNS (3). Measures and records; never passes or fails.
 * Run: pnpm bench:deploy (KEEP_SWARM=1: a run that fails leaves its Swarm to look at)
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sleep } from '@cosmo/wait';
import type Docker from 'dockerode';
import { client, trustProjectCa } from '../test/support/api.ts';
import { cosmo } from '../test/support/cli.ts';
import {
  API,
  executionsQueueReplicated,
  missingWrites,
  type ReaderReport,
  startReadBack,
  startWriter,
  type WriterReport,
} from '../test/support/cluster.ts';
import { eventually } from '../test/support/stack.ts';
import { execStdout, type SwarmHarness, stackContainers, startSwarm } from '../test/support/swarm.ts';
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
  hostKill: HostKill;
}

/** What a host kill showed: the reads and writes through a surviving host's LB (no id lists). */
interface HostKill {
  victim: string;
  readsOk: number;
  readsFailed: number;
  readErrors: string[];
  slowestRead: number;
  writeGap: number;
  slowestWrite: number;
  acknowledged: number;
  writeErrors: string[];
  lost: number;
}

/**
 * Kills the host whose node holds the database primary while one client writes and four read each
 * acknowledged write back through a surviving host's LB (every host runs one); until writes resume
 * and 3 s more. The host is started again and the cluster waited for until OK.
 */
async function killPrimaryHost(
  swarm: SwarmHarness,
  dir: string,
  url: string,
  stack: string,
): Promise<HostKill> {
  const password = (await readFile(path.join(dir, 'secrets/admin_password'), 'utf8')).trim();
  const auth = { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` };
  const status = async (at: string) => (await client(at, auth).get(`${API}/cluster-status`)).body;
  const first = await status(url);
  const primary = Object.entries(
    first.services.db.nodes as Record<string, { services?: { role?: string } }>,
  ).find(([, node]) => node.services?.role === 'leader')?.[0];
  if (!primary) throw new Error('no database primary in cluster-status');
  // The host running that node's task (compact: the node is the database member).
  let victim: (typeof swarm.hosts)[number] | undefined;
  for (const host of swarm.hosts) {
    if (
      [...(await stackContainers(host, stack)).keys()].some((name) => name.startsWith(`${stack}_${primary}.`))
    )
      victim = host;
  }
  if (!victim) throw new Error(`no host runs ${primary}`);
  const survivor = swarm.hosts.find((host) => host !== victim)!;
  // Every broker holds a member of the executions quorum queue first (members that join after it was
  // declared are added within seconds): a queue of two losing one stops every worker.
  const node = [...(await stackContainers(survivor, stack)).entries()].find(([name]) =>
    name.startsWith(`${stack}_node`),
  )![1];
  await executionsQueueReplicated((cmd) => execStdout(survivor.docker, node, cmd));
  const through = { api: client(url.replace(/\/\/[^:/]+:/, `//${survivor.ip}:`), auth) };
  const writer = startWriter(through, `hostkill-${Date.now()}`);
  const reader = startReadBack(through, writer);
  let writes: WriterReport;
  let reads: ReaderReport;
  try {
    await sleep(2_000);
    writer.fault();
    await victim.container.kill();
    const before = writer.acknowledged.length;
    await eventually(
      'writes to resume',
      async () => (writer.acknowledged.length > before + 5 ? true : undefined),
      180_000,
      500,
    );
    await sleep(3_000);
  } finally {
    writes = await writer.stop();
    reads = await reader.stop();
  }
  const lost = (await missingWrites(through, writes.acknowledged)).length;
  await victim.container.start();
  await eventually(
    'cluster-status OK after the host came back',
    async () => ((await status(url).catch(() => undefined))?.status === 'OK' ? true : undefined),
    300_000,
    2_000,
  );
  return {
    victim: `${victim.name} (${primary})`,
    readsOk: reads.ok,
    readsFailed: reads.failed,
    readErrors: reads.errors,
    slowestRead: reads.slowestSeconds,
    writeGap: writes.longestGapSeconds,
    slowestWrite: writes.slowestSeconds,
    acknowledged: writes.acknowledged.length,
    writeErrors: writes.errors,
    lost,
  };
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
  // KEEP_SWARM=1 leaves a failed run's Swarm and project folder in place, to look at.
  let ok = false;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cosmo-bench-deploy-'));
  try {
    // Each host's address is a name the API is reached by (its LB), in the API's certificate.
    const publicNames = swarm.hosts.flatMap((host) => ['--public-name', host.ip]);
    const init = await cosmo(
      ['init', '--mode', 'compact', '--name', 'bench', '--registry', swarm.registry, ...publicNames],
      { cwd: dir },
    );
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
    const url = /Cosmo is deployed in [\d.]+ s: (https:\/\/[^/]+)\/api\/v3\.1/.exec(first.stdout)?.[1];
    if (!url) throw new Error(`cosmo deploy did not say where: ${first.stdout}`);
    await trustProjectCa(dir);
    const hostKill = await killPrimaryHost(swarm, dir, url, 'bench');
    log(
      `run ${run}: host ${hostKill.victim} killed: reads ${hostKill.readsOk} ok, ${hostKill.readsFailed} failed${hostKill.readErrors[0] ? ` (${hostKill.readErrors[0]})` : ''}, slowest ${hostKill.slowestRead.toFixed(1)} s; write gap ${hostKill.writeGap.toFixed(1)} s, slowest write ${hostKill.slowestWrite.toFixed(1)} s, ${hostKill.lost} lost`,
    );
    started = performance.now();
    const removed = await cosmo(['remove', '-H', swarm.hosts[0]!.endpoint, '--volumes', '--yes'], {
      cwd: dir,
      env: swarm.engineEnv,
    });
    const remove = seconds(started);
    if (removed.code !== 0) throw new Error(`remove failed: ${removed.stderr}`);
    runs.push({ deploy, push, tasksRunning, again: againSeconds, remove, hostKill });
    ok = true;
    log(
      `run ${run}: deploy ${deploy.toFixed(1)} s (push ${push.toFixed(1)} s, tasks all running ${tasksRunning.toFixed(1)} s after the first was created), again ${againSeconds.toFixed(1)} s, remove ${remove.toFixed(1)} s`,
    );
  } finally {
    if (ok || !process.env.KEEP_SWARM) await swarm.remove();
    if (ok) await rm(dir, { recursive: true, force: true });
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
      "failed reads, the host holding the DB primary killed (GET of each acknowledged write, through another host's LB)",
      String(runs.reduce((sum, r) => sum + r.hostKill.readsFailed, 0)),
      runs
        .map(
          (r) =>
            `${r.hostKill.readsOk} ok / ${r.hostKill.readsFailed} failed, slowest ${r.hostKill.slowestRead.toFixed(1)} s`,
        )
        .join('; '),
      '0',
      runs.every((r) => r.hostKill.readsFailed === 0) ? 'met' : 'missed',
    ],
    [
      'write gap, the host holding the DB primary killed (s, median)',
      med((r) => r.hostKill.writeGap).toFixed(1),
      list((r) => r.hostKill.writeGap),
      '—',
      '—',
    ],
    [
      'acknowledged writes lost, the host holding the DB primary killed (all runs)',
      String(runs.reduce((sum, r) => sum + r.hostKill.lost, 0)),
      runs.map((r) => `${r.hostKill.acknowledged} acknowledged`).join(', '),
      '0',
      runs.every((r) => r.hostKill.lost === 0) ? 'met' : 'missed',
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
    "Host kill: `docker kill` of the host container whose node holds the Patroni leader (its engine and every task stop at once, no connection is closed cleanly); one client writes (PUT /blueprints) and four read each acknowledged write back, newest first, through a surviving host's LB, from 2 s before the kill until writes resume and 3 s more. The host is then started again and the cluster waited for until OK, before `cosmo remove`.",
  ],
  raw: { runs },
});
