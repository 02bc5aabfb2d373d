/** Version, revision and source of the checkout, for image tags and OCI labels. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

export interface ProjectInfo {
  root: string;
  version: string;
  revision: string;
  source: string;
}

async function git(root: string, ...args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)('git', ['-C', root, ...args]);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

export async function projectInfo(root: string): Promise<ProjectInfo> {
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as {
    version: string;
    repository?: string | { url: string };
  };
  const repo = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
  return {
    root,
    version: pkg.version,
    revision: (await git(root, 'rev-parse', 'HEAD')) ?? 'unknown',
    source: repo ?? (await git(root, 'config', '--get', 'remote.origin.url')) ?? 'unknown',
  };
}
