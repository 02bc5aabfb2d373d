/** `cosmo down`: stops and removes the platform's containers and network; `--volumes` its data too. */
import type { Command } from 'commander';
import { dockerCompose } from '../docker-compose.ts';
import { CONFIG_FILE, loadProject } from '../project.ts';
import { writeGenerated } from './generate.ts';

export function registerDown(program: Command): void {
  program
    .command('down')
    .description('stop and remove the containers and network (and, with --volumes, all data)')
    .option('-c, --config <file>', 'the configuration', CONFIG_FILE)
    .option(
      '-v, --volumes',
      'also remove the data volumes: blueprints, executions and generated credentials are lost',
    )
    .action(async (flags: { config: string; volumes?: boolean }) => {
      const project = await loadProject(flags.config);
      await writeGenerated(project, 'compose', project.composeFile);
      const run = await dockerCompose(project, [
        'down',
        '--remove-orphans',
        ...(flags.volumes ? ['--volumes'] : []),
      ]);
      if (run.code !== 0) throw new Error(`docker compose down failed (exit ${run.code})`);
    });
}
