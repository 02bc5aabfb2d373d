/**
 * `cosmo remove`: takes the stack `cosmo deploy` made off the Swarm (its services, network and
 * secrets), waiting until its tasks are gone; with --volumes also its data on every node. Volumes
 * are local to each node, so they are removed through each node's engine, reached like the manager's
 * (`-H tcp://…:PORT` → every node's address on PORT); a node that cannot be reached is named with
 * the command to run there.
 */
import { createInterface } from 'node:readline/promises';
import { waitFor } from '@cosmo/wait';
import type { Command } from 'commander';
import type Docker from 'dockerode';
import { dockerFor, nodeAddress } from '../engine.ts';
import { UsageError } from '../errors.ts';
import { CONFIG_FILE, loadProject } from '../project.ts';
import { connectSwarm, dockerCli, type SwarmNode, type SwarmTarget, swarmNodes } from '../swarm.ts';

interface RemoveFlags {
  insecureEngine?: boolean;
  config: string;
  host?: string;
  context?: string;
  volumes?: boolean;
  yes?: boolean;
}

const STACK_LABEL = 'com.docker.stack.namespace';

export function registerRemove(program: Command): void {
  program
    .command('remove')
    .description('remove the deployed stack from the Swarm (and, with --volumes, its data on every node)')
    .option('-c, --config <file>', 'the configuration', CONFIG_FILE)
    .option(
      '-H, --host <url>',
      "a Swarm manager's engine: tcp://HOST:2376 (TLS: DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH), ssh://USER@HOST or unix:///PATH",
    )
    .option('--insecure-engine', 'allow plain tcp to engines on other hosts (root for whoever reaches them)')
    .option('--context <name>', 'a docker context naming a Swarm manager')
    .option(
      '--volumes',
      'also remove the data volumes on every node: blueprints, executions and the database are lost',
    )
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (flags: RemoveFlags) => {
      const project = await loadProject(flags.config);
      const stack = project.plan.name;
      const what = `stack ${stack}${flags.volumes ? ' and its data on every node' : ''}`;
      if (!flags.yes) {
        if (!process.stdin.isTTY) throw new UsageError(`removing ${what}: confirm with --yes`);
        const prompt = createInterface({ input: process.stdin, output: process.stdout });
        const answer = await prompt.question(`remove ${what}? [y/N] `);
        prompt.close();
        if (!/^y(es)?$/i.test(answer.trim())) throw new UsageError('not removed');
      }
      const target = await connectSwarm(flags);
      const nodes = await swarmNodes(target);
      const say = (line: string) => process.stdout.write(`${line}\n`);
      const { stdout } = await dockerCli(target, ['stack', 'ls', '--format', '{{.Name}}']);
      if (stdout.split('\n').includes(stack)) {
        say(`removing stack ${stack} (waiting for its tasks to stop)`);
        await dockerCli(target, ['stack', 'rm', '--detach=false', stack]);
      } else {
        say(`no stack ${stack} on the Swarm`);
      }
      if (!flags.volumes) return;
      const left: string[] = [];
      for (const node of nodes) {
        const engine = nodeEngine(target, node);
        if (!engine) {
          left.push(
            `on ${node.hostname}: docker volume rm $(docker volume ls -q --filter label=${STACK_LABEL}=${stack})`,
          );
          continue;
        }
        try {
          const removed = await removeVolumes(engine, stack);
          say(`${node.hostname}: removed ${removed.length ? removed.join(', ') : 'no volumes'}`);
        } catch (error) {
          left.push(
            `on ${node.hostname} (${(error as Error).message}): docker volume rm $(docker volume ls -q --filter label=${STACK_LABEL}=${stack})`,
          );
        }
      }
      if (left.length > 0) {
        throw new Error(`the stack is removed, but not every node's volumes; run:\n  ${left.join('\n  ')}`);
      }
    });
}

/** A node's engine, reached like the manager's (tcp with the same port and TLS files, or ssh); none for a socket. */
function nodeEngine(target: SwarmTarget, node: SwarmNode): Docker | undefined {
  const address = node.address ? nodeAddress(target.address, node.address) : undefined;
  return address ? dockerFor(address, { insecure: target.insecure }) : undefined;
}

/** Removes the stack's volumes on one engine, once no container of the stack is left there. */
async function removeVolumes(engine: Docker, stack: string): Promise<string[]> {
  const filters = JSON.stringify({ label: [`${STACK_LABEL}=${stack}`] });
  // `stack rm` returns once the tasks are gone from the Swarm; a container may still be stopping.
  await waitFor(
    'the containers of the stack to be gone',
    async () => ((await engine.listContainers({ all: true, filters })).length === 0 ? true : undefined),
    { timeoutMs: 180_000, delayMs: 1_000, onError: () => 'throw' },
  );
  const { Volumes } = await engine.listVolumes({ filters });
  for (const volume of Volumes ?? []) await engine.getVolume(volume.Name).remove();
  return (Volumes ?? []).map((volume) => volume.Name);
}
