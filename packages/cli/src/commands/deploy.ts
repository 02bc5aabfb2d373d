/**
 * `cosmo deploy`: from cosmo.yaml to a running platform on a Docker Swarm the operator already has.
 * Checks first (config, supplied files, the Swarm and its node labels) so that a refused deploy
 * changes nothing; then pushes the images and pins them by digest, labels the nodes (with
 * --label-nodes), deploys the stack (Swarm secrets from the secret files), and waits for
 * cluster-status OK through the load balancer, with progress. Running it again is safe: the same
 * images and secrets give the same stack, and Swarm restarts nothing whose spec did not change.
 */
import path from 'node:path';
import { connectDocker } from '@cosmo/images';
import type { Command } from 'commander';
import { clusterStatus } from '../cluster.ts';
import { UsageError } from '../errors.ts';
import { checkProvidedFiles } from '../external.ts';
import { ensureImages } from '../local-images.ts';
import { CONFIG_FILE, cosmoVersion, loadProject, type Project } from '../project.ts';
import { checkRegistry, pinImages } from '../registry.ts';
import { applyLabels, connectSwarm, dockerCli, missingLabels, swarmNodes, taskAddresses } from '../swarm.ts';
import { servicesLine, waitUntil } from '../wait.ts';
import { OUTPUT_NAMES, writeGenerated } from './generate.ts';
import { pushAll } from './images-push.ts';

interface DeployFlags {
  config: string;
  host?: string;
  context?: string;
  insecureEngine?: boolean;
  labelNodes?: boolean;
  pushTo?: string;
  timeout: string;
}

export function registerDeploy(program: Command): void {
  program
    .command('deploy')
    .description(
      'deploy onto a Docker Swarm: push the images, label the nodes, deploy the stack, wait until healthy',
    )
    .option('-c, --config <file>', 'the configuration', CONFIG_FILE)
    .option(
      '-H, --host <url>',
      "a Swarm manager's engine: tcp://HOST:2376 (TLS: DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH), ssh://USER@HOST or unix:///PATH (default: DOCKER_HOST or the local engine)",
    )
    .option('--context <name>', 'a docker context naming a Swarm manager (its TLS data is used)')
    .option('--insecure-engine', 'allow plain tcp to an engine on another host (root for whoever reaches it)')
    .option(
      '--label-nodes',
      'add the node labels the stack needs (otherwise they are printed as commands to run)',
    )
    .option(
      '--push-to <host:port>',
      "the registry as this machine reaches it, when that differs from images.registry (the nodes' name for it)",
    )
    .option('--timeout <seconds>', 'how long to wait for the platform to be healthy', '600')
    .action(async (flags: DeployFlags) => {
      const timeout = Number(flags.timeout);
      if (!Number.isInteger(timeout) || timeout < 1)
        throw new UsageError(`--timeout ${flags.timeout} is not a number of seconds`);
      const started = Date.now();
      const say = (line: string) => process.stdout.write(`${line}\n`);
      const project = await loadProject(flags.config);
      const { registry } = project.config.images;
      if (!registry) {
        throw new UsageError(
          `images.registry is empty in ${flags.config}: every Swarm node pulls the images from a registry; set it to the registry's address as the nodes reach it (cosmo/registry is one to run)`,
        );
      }
      if (flags.pushTo) checkRegistry(flags.pushTo, '--push-to');
      checkProvidedFiles(project);

      // Everything that can refuse, before anything changes.
      const target = await connectSwarm(flags);
      const nodes = await swarmNodes(target);
      say(
        `swarm at ${target.endpoint}: ${nodes.length} ready node(s): ${nodes.map((n) => n.hostname).join(', ')}`,
      );
      const changes = missingLabels(project.plan, nodes);
      if (changes.length > 0 && !flags.labelNodes) {
        throw new UsageError(
          `the stack's placement needs node labels the Swarm lacks; run these (or deploy with --label-nodes):\n  ${changes
            .map((c) => `docker node update --label-add ${c.label}=true ${c.node.hostname}`)
            .join('\n  ')}`,
        );
      }

      const local = await connectDocker();
      const names = [...new Set(project.plan.services.map((service) => service.imageName))];
      const built = await ensureImages(local, names, say);
      const pushed = await pushAll(
        local,
        built,
        flags.pushTo ?? registry,
        { prefix: project.config.images.prefix, tag: project.config.images.tag ?? (await cosmoVersion()) },
        say,
      );

      if (changes.length > 0) {
        await applyLabels(target, changes);
        for (const change of changes) say(`labelled ${change.node.hostname}: ${change.label}=true`);
      }

      const pinned: Project = {
        ...project,
        plan: pinImages(project.plan, registry, project.config.images.prefix, pushed),
      };
      const stackFile = await writeGenerated(
        pinned,
        'swarm',
        path.join(project.configDir, OUTPUT_NAMES.swarm),
      );
      say(`wrote ${path.relative(process.cwd(), stackFile) || stackFile} (images by digest)`);
      await dockerCli(
        target,
        ['stack', 'deploy', '--detach=true', '--prune', '--compose-file', stackFile, project.plan.name],
        {
          cwd: project.configDir,
        },
      );
      say(`deployed stack ${project.plan.name}; waiting for cluster-status OK`);
      const url = await waitHealthy(pinned, target, timeout, say);
      const access = project.plan.access;
      say(`\nCosmo is deployed in ${((Date.now() - started) / 1000).toFixed(1)} s: ${url}/api/v3.1`);
      // The LB runs on every labelled node: each one's address serves the API.
      const others = (await taskAddresses(target, `${project.plan.name}_lb`)).filter(
        (a) => !url.includes(`//${a}:`),
      );
      if (others.length > 0)
        say(`  also on:  ${others.map((a) => url.replace(/\/\/[^:]+:/, `//${a}:`)).join(', ')}`);
      say(`  user:     ${access.adminUser}`);
      if ('file' in access.adminPassword)
        say(`  password: in ${path.resolve(project.configDir, access.adminPassword.file)}`);
    });
}

/** Polls the LB (the first node running it) until cluster-status is OK; prints each change of state. */
function waitHealthy(
  project: Project,
  target: Awaited<ReturnType<typeof connectSwarm>>,
  timeout: number,
  say: (line: string) => void,
): Promise<string> {
  const port = project.plan.services.find((s) => s.name === 'lb')?.ports[0]?.published ?? 8080;
  return waitUntil<string>({
    timeout,
    say,
    hint: `see \`docker ${[...target.cliArgs, 'stack', 'ps', project.plan.name].join(' ')}\``,
    poll: async () => {
      const address = (await taskAddresses(target, `${project.plan.name}_lb`).catch(() => []))[0];
      if (!address) return { state: `services: ${await servicesSummary(target, project.plan.name)}` };
      // The node's own address, checked against the API's certificate by the load balancer's name.
      const url = `${new URL(project.plan.access.url).protocol}//${address}:${port}`;
      try {
        const status = await clusterStatus(project, { at: { url, servername: 'lb' } });
        return status.status === 'OK' ? { done: url } : { state: servicesLine(status) };
      } catch (error) {
        return {
          state: `services: ${await servicesSummary(target, project.plan.name)}; API at ${url}: ${(error as Error).message}`,
        };
      }
    },
  });
}

/** `node1 1/1, lb 0/1`: each service's running tasks against its replicas. */
async function servicesSummary(
  target: Awaited<ReturnType<typeof connectSwarm>>,
  stack: string,
): Promise<string> {
  try {
    const { stdout } = await dockerCli(target, [
      'stack',
      'services',
      stack,
      '--format',
      '{{.Name}} {{.Replicas}}',
    ]);
    return stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => line.replace(`${stack}_`, ''))
      .join(', ');
  } catch {
    return 'not listed yet';
  }
}
