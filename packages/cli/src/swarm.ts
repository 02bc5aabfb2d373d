/**
 * The Swarm a deploy targets: its manager's engine (`-H tcp://…` over TLS or `ssh://…`, `--context
 * NAME`, or the local one: see engine.ts), checks that it is a Swarm manager with enough nodes, the node labels the stack's placement
 * constraints need (which are missing, and applying them), and where a service's task runs.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { dockerEndpoint } from '@cosmo/images';
import type { Plan } from '@cosmo/topology';
import { withTimeout } from '@cosmo/wait';
import type Docker from 'dockerode';
import { dockerCliArgs, dockerFor, type EngineAddress, tlsFiles, tlsFromEnv } from './engine.ts';
import { UsageError } from './errors.ts';

const run = promisify(execFile);

export interface SwarmTarget {
  docker: Docker;
  /** Where the engine is, as a user writes it. */
  endpoint: string;
  /** The engine and how it is reached (TLS files), for reaching the other nodes the same way. */
  address: EngineAddress;
  /** Plain tcp to other hosts allowed (--insecure-engine). */
  insecure: boolean;
  /** What the docker CLI needs to act on the same engine (`--host X` or `--context C`). */
  cliArgs: string[];
}

export interface SwarmNode {
  id: string;
  hostname: string;
  address: string;
  labels: Record<string, string>;
  version: number;
  spec: Record<string, unknown>;
}

/** A docker context's engine and TLS files (`docker context inspect`). */
async function contextAddress(name: string): Promise<EngineAddress> {
  let inspected: {
    Endpoints?: { docker?: { Host?: string; SkipTLSVerify?: boolean } };
    Storage?: { TLSPath?: string };
  };
  try {
    const { stdout } = await run('docker', ['context', 'inspect', name, '--format', '{{json .}}']);
    inspected = JSON.parse(stdout);
  } catch (error) {
    throw new UsageError(
      `--context ${name}: no such docker context (${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}); see \`docker context ls\``,
    );
  }
  const endpoint = inspected.Endpoints?.docker?.Host ?? '';
  if (inspected.Endpoints?.docker?.SkipTLSVerify) {
    throw new UsageError(
      `--context ${name} skips the engine's certificate check: cosmo does not; remove skip-tls-verify from the context`,
    );
  }
  const dir = inspected.Storage?.TLSPath ? path.join(inspected.Storage.TLSPath, 'docker') : '';
  return { endpoint, ...(dir && existsSync(path.join(dir, 'ca.pem')) ? { tls: tlsFiles(dir) } : {}) };
}

export async function connectSwarm(flags: {
  host?: string;
  context?: string;
  insecureEngine?: boolean;
}): Promise<SwarmTarget> {
  if (flags.host && flags.context) throw new UsageError('give -H/--host or --context, not both');
  let address: EngineAddress;
  let cliArgs: string[];
  if (flags.context) {
    address = await contextAddress(flags.context);
    cliArgs = ['--context', flags.context];
  } else {
    const endpoint = flags.host ?? dockerEndpoint();
    const tls = endpoint.startsWith('tcp://') ? tlsFromEnv() : undefined;
    address = { endpoint, ...(tls ? { tls } : {}) };
    cliArgs = flags.host || tls ? dockerCliArgs(address) : [];
  }
  const insecure = flags.insecureEngine ?? false;
  const docker = dockerFor(address, { insecure });
  const endpoint = address.endpoint;
  try {
    await withTimeout(docker.ping(), 5_000, 'the answer to a ping');
  } catch (error) {
    throw new UsageError(
      `cannot reach the Docker Engine at ${endpoint}${address.tls ? ' over TLS' : ''} (${(error as Error).message}): check -H/--context${address.tls ? ', DOCKER_CERT_PATH' : ''} and that the engine listens there`,
    );
  }
  return { docker, endpoint, address, insecure, cliArgs };
}

/** The Swarm's ready, active nodes; refuses an engine that is not a Swarm manager. */
export async function swarmNodes(target: SwarmTarget): Promise<SwarmNode[]> {
  const info = (await target.docker.info()) as {
    Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean };
  };
  if (info.Swarm?.LocalNodeState !== 'active') {
    throw new UsageError(
      `the engine at ${target.endpoint} is not in a Swarm: run \`docker swarm init\` on it and \`docker swarm join\` on the other hosts`,
    );
  }
  if (!info.Swarm.ControlAvailable) {
    throw new UsageError(
      `the engine at ${target.endpoint} is a Swarm worker: point -H/--context at a manager (\`docker node ls\` lists them)`,
    );
  }
  const nodes = (await target.docker.listNodes()) as {
    ID: string;
    Version: { Index: number };
    Spec: { Labels?: Record<string, string>; Availability?: string } & Record<string, unknown>;
    Description?: { Hostname?: string };
    Status?: { State?: string; Addr?: string };
  }[];
  return nodes
    .filter((node) => node.Status?.State === 'ready' && node.Spec.Availability === 'active')
    .map((node) => ({
      id: node.ID,
      hostname: node.Description?.Hostname ?? node.ID,
      address: node.Status?.Addr ?? '',
      labels: node.Spec.Labels ?? {},
      version: node.Version.Index,
      spec: node.Spec,
    }))
    .sort((a, b) => a.hostname.localeCompare(b.hostname));
}

export interface LabelChange {
  node: SwarmNode;
  label: string;
}

/**
 * The labels the plan's placement constraints need that no node has yet. A service with data (a
 * volume) is pinned: its label goes on exactly one node, each on a node of its own; the others (the
 * managers, the LB) may run wherever their label is, so a missing one goes on every node.
 */
export function missingLabels(plan: Plan, nodes: SwarmNode[]): LabelChange[] {
  const has = (node: SwarmNode, label: string) => node.labels[label] === 'true';
  const pinned = plan.services.filter((s) => s.nodeLabel && s.volumes.length > 0).map((s) => s.nodeLabel!);
  const shared = [
    ...new Set(plan.services.filter((s) => s.nodeLabel && s.volumes.length === 0).map((s) => s.nodeLabel!)),
  ];
  const problems: string[] = [];
  const changes: LabelChange[] = [];
  const holdsPinned = new Set(
    nodes.filter((node) => pinned.some((label) => has(node, label))).map((n) => n.id),
  );
  for (const label of pinned) {
    const holders = nodes.filter((node) => has(node, label));
    if (holders.length > 1) {
      problems.push(
        `${label} is on ${holders.map((n) => n.hostname).join(', ')}: it must be on exactly one node (docker node update --label-rm ${label} <node>)`,
      );
    }
    if (holders.length > 0) continue;
    const free = nodes.find((node) => !holdsPinned.has(node.id));
    if (!free) {
      problems.push(
        `${label} needs a node of its own: the Swarm has ${nodes.length} ready node(s) for ${pinned.length} pinned members (${pinned.join(', ')}); add nodes (docker swarm join)`,
      );
      continue;
    }
    holdsPinned.add(free.id);
    changes.push({ node: free, label });
  }
  for (const label of shared) {
    if (nodes.some((node) => has(node, label))) continue;
    for (const node of nodes) changes.push({ node, label });
  }
  if (problems.length > 0)
    throw new UsageError(`the Swarm's nodes do not fit this stack:\n  ${problems.join('\n  ')}`);
  return changes;
}

/** Adds the labels, one node update each (with the node's current version, as Swarm requires). */
export async function applyLabels(target: SwarmTarget, changes: LabelChange[]): Promise<void> {
  const byNode = new Map<string, LabelChange[]>();
  for (const change of changes) byNode.set(change.node.id, [...(byNode.get(change.node.id) ?? []), change]);
  for (const [id, list] of byNode) {
    const node = target.docker.getNode(id);
    const current = (await node.inspect()) as {
      Version: { Index: number };
      Spec: { Labels?: Record<string, string> };
    };
    const labels = { ...(current.Spec.Labels ?? {}) };
    for (const change of list) labels[change.label] = 'true';
    await node.update({
      _query: { version: current.Version.Index },
      _body: { ...current.Spec, Labels: labels },
    });
  }
}

/** The addresses of the nodes running a service's tasks (the LB publishes its port on each, in host mode). */
export async function taskAddresses(target: SwarmTarget, service: string): Promise<string[]> {
  const tasks = (await target.docker.listTasks({
    filters: JSON.stringify({ service: [service], 'desired-state': ['running'] }),
  })) as { NodeID?: string; Status?: { State?: string } }[];
  const addresses: string[] = [];
  for (const task of tasks) {
    if (task.Status?.State !== 'running' || !task.NodeID) continue;
    const node = (await target.docker.getNode(task.NodeID).inspect()) as { Status?: { Addr?: string } };
    if (node.Status?.Addr) addresses.push(node.Status.Addr);
  }
  return addresses.sort();
}

/** Runs the docker CLI against the target (for `docker stack`, which has no API of its own). */
export async function dockerCli(
  target: SwarmTarget,
  args: string[],
  options: { cwd?: string } = {},
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run('docker', [...target.cliArgs, ...args], {
      cwd: options.cwd,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`docker ${args.slice(0, 2).join(' ')} failed: ${stderr || (error as Error).message}`);
  }
}
