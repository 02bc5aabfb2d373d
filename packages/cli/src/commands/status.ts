/** `cosmo status`: the cluster status as a table of service, node, status and failures. */

import { connectDocker } from '@cosmo/images';
import { sleep } from '@cosmo/wait';
import type { Command } from 'commander';
import { clusterStatus, statusRows, table } from '../cluster.ts';
import { containersSummary } from '../containers.ts';
import { CONFIG_FILE, loadProject } from '../project.ts';
import { adminPassword } from '../secrets.ts';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("show the platform's cluster status: each service and node, OK or not, and why")
    .option('-c, --config <file>', 'the configuration', CONFIG_FILE)
    .option('--json', "print the manager's cluster-status answer as JSON")
    .option('-w, --watch', 'refresh every 2 seconds until interrupted')
    .action(async (flags: { config: string; json?: boolean; watch?: boolean }) => {
      const project = await loadProject(flags.config);
      const password = await adminPassword(project).catch((error: Error) => {
        throw new Error(
          `cannot read the admin password (is the platform up? \`cosmo up\`): ${error.message}`,
        );
      });
      for (;;) {
        let status: Awaited<ReturnType<typeof clusterStatus>>;
        try {
          status = await clusterStatus(project, { password });
        } catch (error) {
          // Say what the containers say instead: exited, restarting, or the manager's last warning.
          const containers = await connectDocker()
            .then((docker) => containersSummary(docker, project))
            .catch((e: Error) => `containers unknown: ${e.message}`);
          throw new Error(
            `the manager at ${project.plan.access.url} does not answer (${(error as Error).message})\n  ${containers}`,
          );
        }
        const text = flags.json
          ? JSON.stringify(status, null, 2)
          : `cluster: ${status.status}\n${table(['SERVICE', 'NODE', 'STATUS', 'FAILURES'], statusRows(status))}`;
        if (flags.watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
        process.stdout.write(`${text}\n`);
        if (!flags.watch) {
          if (status.status === 'Fail') process.exitCode = 1;
          return;
        }
        await sleep(2_000);
      }
    });
}
