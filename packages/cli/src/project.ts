/**
 * The user's Cosmo project: cosmo.yaml (and its secrets) in a folder, the plan made from it, and
 * where the generated compose file lives. Every command that acts on a running platform starts here.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, type CosmoConfig, type Plan, parseConfig, planFor } from '@cosmo/topology';
import { UsageError } from './errors.ts';

export const CONFIG_FILE = 'cosmo.yaml';
/**
 * The generated compose file sits beside cosmo.yaml under the name compose looks for, with the
 * project's name inside, so `docker compose up -d` in the folder does what `cosmo up` starts.
 */
export const COMPOSE_FILE = 'compose.yaml';

export interface Project {
  configPath: string;
  configDir: string;
  config: CosmoConfig;
  plan: Plan;
  composeFile: string;
}

export async function cosmoVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export function projectFromText(text: string, configPath: string, version: string): Project {
  let config: CosmoConfig;
  try {
    config = parseConfig(text, configPath);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
  const configDir = path.dirname(path.resolve(configPath));
  return {
    configPath: path.resolve(configPath),
    configDir,
    config,
    plan: planFor(config, version),
    composeFile: path.join(configDir, COMPOSE_FILE),
  };
}

export async function loadProject(configPath: string): Promise<Project> {
  if (!existsSync(configPath)) {
    throw new UsageError(
      `no ${path.basename(configPath)} at ${path.resolve(configPath)}: run \`cosmo init\` (or \`cosmo up\`) first`,
    );
  }
  return projectFromText(await readFile(configPath, 'utf8'), configPath, await cosmoVersion());
}
