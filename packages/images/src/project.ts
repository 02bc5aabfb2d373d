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

/**
 * A remote URL fit for a public label: `https://user:token@host/repo` would carry a credential into
 * every image built here, so user info is removed (scp-like `git@host:repo` keeps its form, no secret).
 */
export function publicSource(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url; // not a URL (a path, or git@host:repo)
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
    source: publicSource(repo ?? (await git(root, 'config', '--get', 'remote.origin.url')) ?? 'unknown'),
  };
}
