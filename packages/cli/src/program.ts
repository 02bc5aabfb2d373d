/** The `cosmo` command: one file per command under commands/, wired here. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerDeploy } from './commands/deploy.ts';
import { registerDown } from './commands/down.ts';
import { registerGenerate } from './commands/generate.ts';
import { registerImagesBuild } from './commands/images-build.ts';
import { registerImagesList } from './commands/images-list.ts';
import { registerImagesPush } from './commands/images-push.ts';
import { registerInit } from './commands/init.ts';
import { registerLogs } from './commands/logs.ts';
import { registerManagers } from './commands/managers.ts';
import { registerRemove } from './commands/remove.ts';
import { registerStatus } from './commands/status.ts';
import { registerUp } from './commands/up.ts';
import { exitCodeFor } from './errors.ts';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export function createProgram(): Command {
  const program = new Command('cosmo')
    .description('Run the Cosmo orchestration platform in containers, from a laptop to a cluster')
    .version(version, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const images = program
    .command('images')
    .description('build and inspect the Cosmo container images')
    .exitOverride();
  registerImagesBuild(images);
  registerImagesList(images);
  registerImagesPush(images);
  const managers = program
    .command('managers')
    .description('manage the members of a running cluster')
    .exitOverride();
  registerManagers(managers);
  registerInit(program);
  registerGenerate(program);
  registerUp(program);
  registerStatus(program);
  registerLogs(program);
  registerDown(program);
  registerDeploy(program);
  registerRemove(program);
  for (const command of [...program.commands, ...images.commands, ...managers.commands])
    command.exitOverride();
  return program;
}

/** Runs the CLI and returns its exit code; errors are printed as one clear message, not a stack. */
export async function run(argv: readonly string[]): Promise<number> {
  try {
    await createProgram().parseAsync(argv as string[]);
    return 0;
  } catch (error) {
    const code = exitCodeFor(error);
    // commander has already printed its own usage errors and help.
    if (
      !(error && typeof error === 'object' && 'code' in error && String(error.code).startsWith('commander.'))
    ) {
      process.stderr.write(`cosmo: ${error instanceof Error ? error.message : String(error)}\n`);
      if (code === 1 && process.env.COSMO_DEBUG && error instanceof Error)
        process.stderr.write(`${error.stack}\n`);
    }
    return code;
  }
}
