/** `cosmo init`: writes cosmo.yaml and secrets/ (0600 files); refuses to overwrite without --force. */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defaultConfigText, MODES } from '@cosmo/topology';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { CONFIG_FILE, cosmoVersion, projectFromText } from '../project.ts';
import { existingSecrets, secretFiles, writeSecrets } from '../secrets.ts';

export interface InitOptions {
  dir: string;
  mode: string;
  force: boolean;
}

/** Checks everything first, then writes: a refused init leaves nothing behind. */
export async function initProject(options: InitOptions): Promise<{ configPath: string; secrets: string[] }> {
  if (!(MODES as readonly string[]).includes(options.mode)) {
    throw new UsageError(`--mode ${options.mode} is not a mode (use one of ${MODES.join(', ')})`);
  }
  const configPath = path.join(options.dir, CONFIG_FILE);
  const text = defaultConfigText({ mode: options.mode, credentials: 'files' });
  const project = projectFromText(text, configPath, await cosmoVersion());
  const files = secretFiles(project.plan, project.configDir);
  const present = [...(existsSync(configPath) ? [configPath] : []), ...existingSecrets(files)];
  if (present.length > 0 && !options.force) {
    throw new UsageError(
      `${present.join(', ')} already exist(s): keep them, or run cosmo init --force to replace them`,
    );
  }
  await writeFile(configPath, text, { mode: 0o644 });
  const secrets = await writeSecrets(files);
  return { configPath, secrets };
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('write cosmo.yaml and generated credentials in secrets/ (files readable by you only)')
    .option('--mode <mode>', `deployment mode: ${MODES.join(', ')}`, 'aio')
    .option('--dir <dir>', 'project folder', '.')
    .option('--force', 'replace an existing cosmo.yaml and secrets/')
    .action(async (flags: { mode: string; dir: string; force?: boolean }) => {
      const { configPath, secrets } = await initProject({
        dir: flags.dir,
        mode: flags.mode,
        force: Boolean(flags.force),
      });
      process.stdout.write(
        `wrote ${configPath}\nwrote ${secrets.length} secret files in ${path.dirname(secrets[0]!)} (mode 0600)\n`,
      );
    });
}
