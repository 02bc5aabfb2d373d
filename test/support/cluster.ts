/**
 * A cluster (distributed or compact) brought up as a user would (`cosmo init --mode <mode>`,
 * `cosmo up`) in a folder of its own, and what the fault tests and the failover benchmark do to it: find and
 * kill members, and keep a client writing through the load balancer, counting what was acknowledged.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sleep } from '@cosmo/wait';
import Docker from 'dockerode';
import { expect } from 'vitest';
import { type Client, client, trustProjectCa } from './api.ts';
import { cosmo } from './cli.ts';
import { eventually, finishedExecution } from './stack.ts';
import { execStdout } from './swarm.ts';

export const API = '/api/v3.1';
export const docker = new Docker();
const run = promisify(execFile);

export interface Cluster {
  name: string;
  dir: string;
  url: string;
  /** The admin's password (secrets/admin_password). */
  password: string;
  api: Client;
  /** Seconds `cosmo up` took from start to cluster-status OK, as it printed them. */
  upSeconds: number;
  container(service: string): Docker.Container;
  status(): Promise<any>;
  /** The database member Patroni calls leader. */
  primary(): Promise<string>;
  down(): Promise<void>;
}

export function startDistributed(name: string, port: number): Promise<Cluster> {
  return startCluster('distributed', name, port);
}

export async function startCluster(
  mode: 'distributed' | 'compact',
  name: string,
  port: number,
  options: {
    /** More `cosmo init` flags (`--external-db URL`, …). */
    initArgs?: string[];
    /** Run in the project folder between init and up (files the operator supplies). */
    prepare?: (dir: string) => Promise<void>;
  } = {},
): Promise<Cluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `${name}-`));
  const init = await cosmo(
    ['init', '--mode', mode, '--name', name, '--port', String(port), ...(options.initArgs ?? [])],
    { cwd: dir },
  );
  if (init.code !== 0) throw new Error(`cosmo init failed: ${init.stderr}`);
  await options.prepare?.(dir);
  const up = await cosmo(['up', '--timeout', '240'], { cwd: dir });
  if (up.code !== 0) throw new Error(`cosmo up failed (${up.code}):\n${up.stdout}\n${up.stderr}`);
  const upSeconds = Number(/Cosmo is up in ([\d.]+) s/.exec(up.stdout)?.[1] ?? Number.NaN);
  const password = (await readFile(path.join(dir, 'secrets/admin_password'), 'utf8')).trim();
  // HTTPS unless the project was made with --insecure-http (then it has no CA).
  const tls = existsSync(path.join(dir, 'secrets/ca.crt'));
  if (tls) await trustProjectCa(dir);
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const api = client(url, { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` });
  const container = (service: string) => docker.getContainer(`${name}-${service}-1`);
  const status = async () => (await api.get(`${API}/cluster-status`)).body;
  return {
    name,
    dir,
    url,
    password,
    api,
    upSeconds,
    container,
    status,
    async primary() {
      return eventually('a database leader', async () => {
        const body = await status();
        const nodes = body?.services?.db?.nodes ?? {};
        return Object.entries(nodes).find(([, node]: [string, any]) => node.services?.role === 'leader')?.[0];
      });
    },
    async down() {
      await cosmo(['down', '--volumes'], { cwd: dir });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Removes whatever a project left (a cluster whose `cosmo up` failed has no Cluster to take down). */
export async function removeProject(name: string): Promise<void> {
  await run('docker', ['compose', '-p', name, 'down', '--volumes', '--remove-orphans']).catch(() => {});
}

/** Polls cluster-status until it reports the wanted state. */
export function clusterState(cluster: Cluster, wanted: string, timeoutMs = 180_000): Promise<any> {
  return eventually(
    `cluster-status ${wanted}`,
    async () => {
      const body = await cluster.status();
      return body?.status === wanted ? body : undefined;
    },
    timeoutMs,
    500,
  );
}

export interface WriterReport {
  acknowledged: string[];
  failed: number;
  /**
   * The longest time without an acknowledged write, in seconds: between two of them, and from the
   * last one to the writer's stop (an outage still open at the end counts too).
   */
  longestGapSeconds: number;
  /** Writes acknowledged after `fault()` was called: the writes that resumed. */
  acknowledgedAfterFault: number;
  /** The longest any one write took to be answered, in seconds (acknowledged or not). */
  slowestSeconds: number;
  /** What the failed writes were answered (the first 20). */
  errors: string[];
}

/**
 * Writes blueprints through the load balancer one after another until stopped. A write counts as
 * acknowledged only on 201; everything else (an error answer, a timeout, a refused connection) is a
 * failed attempt, and the next write is tried at once. `fault()` marks the moment of the fault.
 */
export function startWriter(
  cluster: Pick<Cluster, 'api'>,
  prefix: string,
): { fault(): void; stop(): Promise<WriterReport>; readonly acknowledged: readonly string[] } {
  const acknowledged: string[] = [];
  const errors: string[] = [];
  let slowest = 0;
  let failed = 0;
  let running = true;
  let last = Date.now();
  let longest = 0;
  let faultAt: number | undefined;
  let afterFault = 0;
  const loop = (async () => {
    for (let n = 0; running; n++) {
      const id = `${prefix}-${n}`;
      const sent = Date.now();
      try {
        const answer = await cluster.api.raw('PUT', `${API}/blueprints/${id}`, {
          raw: 'tosca_definitions_version: x\nnode_templates:\n  vm: {type: t}\n',
          headers: { 'content-type': 'application/yaml' },
        });
        slowest = Math.max(slowest, Date.now() - sent);
        if (answer.status === 201) {
          const now = Date.now();
          longest = Math.max(longest, now - last);
          last = now;
          acknowledged.push(id);
          if (faultAt !== undefined && sent >= faultAt) afterFault++;
        } else {
          failed++;
          if (errors.length < 20) errors.push(`${answer.status} ${answer.text.slice(0, 300)}`);
        }
      } catch (error) {
        slowest = Math.max(slowest, Date.now() - sent);
        failed++;
        if (errors.length < 20) errors.push(String((error as Error).cause ?? error));
        await sleep(50);
      }
    }
  })();
  return {
    acknowledged,
    fault() {
      faultAt = Date.now();
    },
    async stop() {
      running = false;
      await loop;
      longest = Math.max(longest, Date.now() - last);
      return {
        acknowledged,
        failed,
        longestGapSeconds: longest / 1000,
        acknowledgedAfterFault: afterFault,
        slowestSeconds: slowest / 1000,
        errors,
      };
    },
  };
}

export interface ApiWriterReport {
  /** Deployments (PUT /deployments) and executions (POST /executions) acknowledged with 201. */
  deployments: string[];
  executions: string[];
  failed: number;
  errors: string[];
}

/**
 * Writes through the load balancer in `parallel` loops, each alternating PUT /deployments/<new id>
 * (of `blueprint`) and POST /executions (install, forced, on `deployment`): the writes a load
 * balancer must not replay, so a fault's failed writes show here where GETs would be retried.
 */
export function startApiWriter(
  cluster: Cluster,
  prefix: string,
  blueprint: string,
  deployment: string,
  parallel = 2,
): { stop(): Promise<ApiWriterReport> } {
  const report: ApiWriterReport = { deployments: [], executions: [], failed: 0, errors: [] };
  let running = true;
  const failure = (what: string) => {
    report.failed++;
    if (report.errors.length < 10) report.errors.push(what);
  };
  const loops = Array.from({ length: parallel }, async (_, loop) => {
    for (let n = 0; running; n++) {
      const id = `${prefix}-${loop}-${n}`;
      const put = await cluster.api
        .put(`${API}/deployments/${id}`, { blueprint_id: blueprint })
        .catch((error: Error) => ({ status: 0, text: String(error.cause ?? error), body: undefined }));
      if (put.status === 201) report.deployments.push(id);
      else failure(`PUT ${put.status} ${put.text.slice(0, 80)}`);
      const post = await cluster.api
        .post(`${API}/executions`, { deployment_id: deployment, workflow_id: 'install', force: true })
        .catch((error: Error) => ({ status: 0, text: String(error.cause ?? error), body: undefined }));
      if (post.status === 201) report.executions.push(post.body.id);
      else failure(`POST ${post.status} ${post.text.slice(0, 80)}`);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return report;
    },
  };
}

/** Ids of the acknowledged writes the cluster does not have. */
export async function missingWrites(cluster: Pick<Cluster, 'api'>, ids: string[]): Promise<string[]> {
  const present = new Set<string>();
  for (let offset = 0; ; offset += 1000) {
    const page = await cluster.api.get(`${API}/blueprints?_include=id&_size=1000&_offset=${offset}`);
    if (page.status !== 200) throw new Error(`listing blueprints answered ${page.status}: ${page.text}`);
    for (const item of page.body.items) present.add(item.id);
    if (page.body.items.length < 1000) break;
  }
  return ids.filter((id) => !present.has(id));
}

export interface ReaderReport {
  ok: number;
  failed: number;
  /** The first failed answers. */
  errors: string[];
  /** The longest any one read took, in seconds. */
  slowestSeconds: number;
}

/**
 * Sends GETs through the load balancer (several at a time) until stopped, counting failed answers:
 * `path(n)` is the nth request's path under the API (GET /status unless given).
 */
export function startReader(
  cluster: Pick<Cluster, 'api'>,
  parallel = 4,
  path: (n: number) => string = () => '/status',
): { stop(): Promise<ReaderReport> } {
  let running = true;
  let ok = 0;
  let failed = 0;
  let sent = 0;
  let slowest = 0;
  const errors: string[] = [];
  const loops = Array.from({ length: parallel }, async () => {
    while (running) {
      const at = path(sent++);
      const started = Date.now();
      try {
        const answer = await cluster.api.get(`${API}${at}`);
        if (answer.status === 200) ok++;
        else {
          failed++;
          errors.push(`GET ${at}: ${answer.status} ${answer.text.slice(0, 200)}`);
        }
      } catch (error) {
        failed++;
        errors.push(`GET ${at}: ${String((error as Error).cause ?? error)}`);
      }
      slowest = Math.max(slowest, Date.now() - started);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { ok, failed, errors: errors.slice(0, 10), slowestSeconds: slowest / 1000 };
    },
  };
}

/**
 * Reads a writer's acknowledged writes back (4 clients, newest first) until stopped: through a fault,
 * every one must be there and no read may fail, primary or not.
 */
export function startReadBack(
  cluster: Pick<Cluster, 'api'>,
  writer: { readonly acknowledged: readonly string[] },
): { stop(): Promise<ReaderReport> } {
  return startReader(cluster, 4, (n) => {
    const ids = writer.acknowledged;
    return ids.length === 0 ? '/blueprints?_size=1' : `/blueprints/${ids[ids.length - 1 - (n % ids.length)]}`;
  });
}

/**
 * Waits until the executions quorum queue has a member on every queue node (`broker`: a container
 * running one). Members that join a cluster after the queue was declared are added to it within
 * seconds (membership reconciliation every 10 s): until then, losing a member can cost the queue its
 * majority, and the managers cannot consume from it.
 */
export async function queueFullyReplicated(cluster: Cluster, broker: string, members = 3): Promise<void> {
  await executionsQueueReplicated(
    async (cmd) => (await run('docker', ['exec', `${cluster.name}-${broker}-1`, ...cmd])).stdout,
    members,
  );
}

/**
 * The same wait, asking a broker through `exec` (a command run in its container, on whatever engine
 * holds it): until the executions queue has a member on `members` brokers.
 */
export async function executionsQueueReplicated(
  exec: (cmd: string[]) => Promise<string>,
  members = 3,
  timeoutMs = 120_000,
): Promise<void> {
  await eventually(
    `the executions queue on all ${members} queue nodes`,
    async () => {
      const json = await exec(['rabbitmqctl', '-q', 'list_queues', 'name', 'members', '--formatter', 'json']);
      const queue = (JSON.parse(json) as { name: string; members: string[] }[]).find(
        (q) => q.name === 'cosmo.executions',
      );
      return queue && queue.members.length === members ? true : undefined;
    },
    timeoutMs,
    2_000,
  );
}

/**
 * Does `fault` to the container holding the database primary while a client writes through the
 * load balancer, waits for another primary and a few more writes, and reports what was acknowledged
 * (the caller checks that none is missing).
 */
/**
 * Which member leads etcd and which runs Patroni's primary, as the database member `member` sees them
 * (`etcd db2 patroni db1`), from cosmo-db-etcd-leader in its container.
 */
export async function leaders(cluster: Cluster, member: string): Promise<string> {
  const out = await execStdout(docker, `${cluster.name}-${member}-1`, ['cosmo-db-etcd-leader', '--show']);
  return out.trim().split('\n').at(-1) ?? '';
}

export async function failPrimary(
  cluster: Cluster,
  prefix: string,
  fault: (container: Docker.Container) => Promise<unknown>,
  /** Runs once the fault is done, before a new primary is waited for (what the window looks like). */
  during?: () => Promise<void>,
): Promise<{ primary: string; report: WriterReport; reads: ReaderReport; leadersAtFault: string }> {
  const primary = await cluster.primary();
  const writer = startWriter(cluster, prefix);
  const reader = startReadBack(cluster, writer);
  let report: WriterReport | undefined;
  let reads: ReaderReport | undefined;
  let leadersAtFault = '';
  try {
    await sleep(2_000);
    leadersAtFault = await leaders(cluster, primary).catch(
      (error) => `unknown (${(error as Error).message})`,
    );
    writer.fault();
    await fault(cluster.container(primary));
    await during?.();
    // Writes resume on the new primary.
    await eventually(
      'a new primary',
      async () => ((await cluster.primary().catch(() => primary)) !== primary ? true : undefined),
      90_000,
      500,
    );
    await sleep(3_000);
  } finally {
    report = await writer.stop();
    reads = await reader.stop();
  }
  return { primary, report, reads, leadersAtFault };
}

/** Uploads a blueprint, creates a deployment of it and runs `install` through the API; the finished execution. */
export async function installThrough(api: Client, blueprint: string, deployment = 'dep'): Promise<any> {
  const upload = await api.raw('PUT', `${API}/blueprints/${deployment}-bp`, {
    raw: blueprint,
    headers: { 'content-type': 'application/yaml' },
  });
  if (upload.status !== 201) throw new Error(`blueprint upload answered ${upload.status}: ${upload.text}`);
  const created = await api.put(`${API}/deployments/${deployment}`, { blueprint_id: `${deployment}-bp` });
  if (created.status !== 201) throw new Error(`deployment answered ${created.status}: ${created.text}`);
  const started = await api.post(`${API}/executions`, { deployment_id: deployment, workflow_id: 'install' });
  if (started.status !== 201) throw new Error(`execution answered ${started.status}: ${started.text}`);
  return finishedExecution(api, started.body.id);
}

/**
 * Submits `install` executions of a deployment one after another while `act` runs (a fault); the ids
 * of those acknowledged (201). Submission stops once `act` has ended, even when it failed.
 */
export async function submitDuring(
  api: Client,
  deployment: string,
  act: () => Promise<void>,
): Promise<string[]> {
  const acknowledged: string[] = [];
  let running = true;
  const submitter = (async () => {
    while (running) {
      const answer = await api
        .post(`${API}/executions`, { deployment_id: deployment, workflow_id: 'install', force: true })
        .catch(() => undefined);
      if (answer?.status === 201) acknowledged.push(answer.body.id);
    }
  })();
  try {
    await act();
  } finally {
    running = false;
    await submitter;
  }
  return acknowledged;
}

/**
 * While the database has no primary: cluster-status says the db service is Degraded with a failover
 * in progress, since when, and `cosmo status` prints it.
 */
export async function failoverShown(cluster: Cluster): Promise<void> {
  const status = await eventually(
    'cluster-status to show the failover',
    async () => {
      const body = await cluster.status().catch(() => undefined);
      const failures: string[] = body?.services?.db?.failures ?? [];
      return failures.some((failure) => /failover in progress since \d{4}-/.test(failure)) ? body : undefined;
    },
    15_000,
    250,
  );
  expect(status.services.db.status).toBe('Degraded');
  const printed = await cosmo(['status'], { cwd: cluster.dir });
  expect(printed.stdout).toMatch(/db\s+\(service\)\s+Degraded\s+failover in progress since/);
}
