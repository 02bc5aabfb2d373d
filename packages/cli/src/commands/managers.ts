/** `cosmo managers remove <name>`: forget a manager that is gone for good (it no longer degrades the cluster). */
import type { Command } from 'commander';
import { apiCall } from '../cluster.ts';
import { UsageError } from '../errors.ts';
import { CONFIG_FILE, loadProject } from '../project.ts';

export function registerManagers(managers: Command): void {
  managers
    .command('remove')
    .description(
      'remove a stopped manager from the cluster now (managers silent for 24 h are removed anyway)',
    )
    .argument('<name>', 'the manager, as `cosmo status` names it')
    .option('-c, --config <file>', 'the configuration', CONFIG_FILE)
    .action(async (name: string, flags: { config: string }) => {
      const project = await loadProject(flags.config);
      const { status, body } = await apiCall(project, 'DELETE', `/managers/${encodeURIComponent(name)}`);
      if (status === 204) {
        process.stdout.write(`removed manager ${name}\n`);
        return;
      }
      if (status === 404 || status === 409)
        throw new UsageError(body.message ?? `the manager answered ${status}`);
      throw new Error(`the manager answered ${status}: ${body.message ?? 'no message'}`);
    });
}
