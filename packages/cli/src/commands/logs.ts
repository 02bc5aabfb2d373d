/** `cosmo logs [service]`: the containers' logs through docker compose. */
import { serviceNames } from '@cosmo/compose';
import type { Command } from 'commander';
import { dockerCompose } from '../docker-compose.ts';
import { UsageError } from '../errors.ts';
import { CONFIG_FILE, loadProject } from '../project.ts';

export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description('show the logs of the platform, or of one service')
    .argument('[service]', 'a service of the plan (aio in the aio mode)')
    .option('-c, --config <file>', 'the configuration', CONFIG_FILE)
    .option('-f, --follow', 'keep printing new lines')
    .option('-n, --tail <lines>', 'only the last lines', 'all')
    .action(
      async (service: string | undefined, flags: { config: string; follow?: boolean; tail: string }) => {
        const project = await loadProject(flags.config);
        const names = serviceNames(project.plan, 'compose');
        if (service && !names.includes(service)) {
          throw new UsageError(
            `no service '${service}' in this ${project.plan.mode} platform (services: ${names.join(', ')})`,
          );
        }
        if (flags.tail !== 'all' && !/^\d+$/.test(flags.tail))
          throw new UsageError(`--tail ${flags.tail} is not a number of lines`);
        const args = [
          'logs',
          '--tail',
          flags.tail,
          ...(flags.follow ? ['--follow'] : []),
          ...(service ? [service] : []),
        ];
        const run = await dockerCompose(project, args);
        process.exitCode = run.code;
      },
    );
}
