/** Generated credentials: random, written 0600, never printed. */
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Plan } from '@cosmo/topology';
import { dockerCompose } from './docker-compose.ts';
import type { Project } from './project.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomSecret(length = 32): string {
  return Array.from({ length }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
}

/**
 * The random secrets a plan generates, as absolute paths (the plan's are relative to cosmo.yaml's
 * folder). The files an operator supplies (an external service's password) are not among them, nor
 * the certificates (certificates.ts issues those).
 */
export function secretFiles(plan: Plan, configDir: string): string[] {
  return plan.secrets
    .filter((secret) => !secret.provided && !secret.certificate)
    .map((secret) => path.resolve(configDir, secret.file));
}

export async function writeSecrets(files: string[]): Promise<string[]> {
  for (const file of files) {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(file, randomSecret(), { mode: 0o600 });
  }
  return files;
}

export function existingSecrets(files: string[]): string[] {
  return files.filter((file) => existsSync(file));
}

/** The admin password: from the project's secret file, or from the running container's volume. */
export async function adminPassword(project: Project): Promise<string> {
  const where = project.plan.access.adminPassword;
  if ('file' in where) return (await readFile(path.resolve(project.configDir, where.file), 'utf8')).trim();
  const run = await dockerCompose(project, ['exec', '-T', where.service, 'cat', where.inVolume], {
    capture: true,
  });
  if (run.code !== 0)
    throw new Error(`cannot read the admin password from the container: ${run.stderr.trim()}`);
  return run.stdout.trim();
}
