/** The Cosmo checkout the CLI works in: found upward from the working directory, else the CLI's own. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function isRoot(dir: string): boolean {
  return existsSync(path.join(dir, 'pnpm-workspace.yaml')) && existsSync(path.join(dir, 'images'));
}

export function projectRoot(start = process.cwd()): string {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    if (isRoot(dir)) return dir;
    if (dir === path.dirname(dir)) break;
  }
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
}
