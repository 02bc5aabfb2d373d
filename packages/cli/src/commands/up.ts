/**
 * `cosmo up`: init when needed, build missing images, `docker compose up`, wait until the cluster
 * reports OK (with progress), then say where the platform is and how to log in.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { connectDocker } from '@cosmo/images';
import type { Command } from 'commander';
import { clusterStatus } from '../cluster.ts';
import {
  brokenContainer,
  describeContainer,
  lastManagerWarning,
  projectContainers,
  tellingLogLines,
} from '../containers.ts';
import { dockerCompose } from '../docker-compose.ts';
import { UsageError } from '../errors.ts';
import { checkProvidedFiles } from '../external.ts';
import { ensureImages } from '../local-images.ts';
import { CONFIG_FILE, loadProject } from '../project.ts';
import { servicesLine, waitUntil } from '../wait.ts';
import { writeGenerated } from './generate.ts';
import { initProject } from './init.ts';

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('start the platform: init if needed, build missing images, compose up, wait until healthy')
    .option('-c, --config <file>', 'the configuration', CONFIG_FILE)
    .option('--timeout <seconds>', 'how long to wait for the platform to be healthy', '300')
    .action(async (flags: { config: string; timeout: string }) => {
      // The figure printed at the end counts from here: images, starting containers and waiting.
      const started = Date.now();
      const timeout = Number(flags.timeout);
      if (!Number.isInteger(timeout) || timeout < 1)
        throw new UsageError(`--timeout ${flags.timeout} is not a number of seconds`);
      const say = (line: string) => process.stdout.write(`${line}\n`);
      if (!existsSync(flags.config)) {
        const { configPath } = await initProject({
          dir: path.dirname(flags.config),
          mode: 'aio',
          force: false,
        });
        say(`created ${configPath} and its secrets`);
      }
      const project = await loadProject(flags.config);
      checkProvidedFiles(project);
      const docker = await connectDocker();

      const imagesStarted = Date.now();
      if (project.config.images.registry === '') {
        await ensureImages(docker, [...new Set(project.plan.services.map((svc) => svc.imageName))], say);
      }

      const imagesSeconds = (Date.now() - imagesStarted) / 1000;
      await writeGenerated(project, 'compose', project.composeFile);
      say(
        `starting ${project.plan.name} (${project.plan.mode}) from ${path.relative(process.cwd(), project.composeFile)}`,
      );
      const up = await dockerCompose(project, ['up', '-d', '--remove-orphans']);
      if (up.code !== 0) throw new Error(`docker compose up failed (exit ${up.code})`);

      // While waiting, say what the platform says about itself: the cluster status once the API
      // answers, before that each container's state and the manager's last warning. A container that
      // exited or restarts in a loop will not come up by waiting: stop at once with its last lines.
      const restartsBefore = new Map(
        (await projectContainers(docker, project)).map((c) => [c.id, c.restarts]),
      );
      await waitUntil({
        timeout,
        say,
        hint: 'see `cosmo status` and `cosmo logs`',
        poll: async () => {
          const containers = await projectContainers(docker, project);
          const broken = brokenContainer(containers, restartsBefore);
          if (broken) {
            const lines = await tellingLogLines(docker, broken.id, 12).catch(() => []);
            throw new Error(
              `${describeContainer(broken)}: it will not come up by waiting. What its log says:\n  ${lines.join('\n  ')}\n` +
                `fix what they name, then \`cosmo up\` again (all of its log: \`cosmo logs\`)`,
            );
          }
          try {
            const status = await clusterStatus(project);
            return status.status === 'OK' ? { done: status } : { state: servicesLine(status) };
          } catch (error) {
            // An API that answers but refuses (a 401: the running platform has other credentials than
            // this folder's) says more than the manager's last warning.
            const message = (error as Error).message;
            // Docker's port proxy accepts and then drops connections until the container listens.
            const answered =
              !/fetch failed|no manager answers|aborted|timeout|ECONNRESET|ECONNREFUSED|socket disconnected|socket hang up/i.test(
                message,
              );
            const warning = answered ? `API: ${message}` : await lastManagerWarning(docker, containers);
            return {
              state: [containers.map(describeContainer).join(', '), warning].filter(Boolean).join('; '),
            };
          }
        },
      });
      const access = project.plan.access;
      const seconds = (Date.now() - started) / 1000;
      say(
        `\nCosmo is up in ${seconds.toFixed(1)} s (${imagesSeconds.toFixed(1)} s of it checking or building images): ${access.url}/api/v3.1`,
      );
      say(`  user:     ${access.adminUser}`);
      say(
        'file' in access.adminPassword
          ? `  password: in ${path.resolve(project.configDir, access.adminPassword.file)}`
          : `  password: in ${access.adminPassword.inVolume} inside the ${access.adminPassword.service} container`,
      );
      say('  status:   bin/cosmo status');
    });
}
