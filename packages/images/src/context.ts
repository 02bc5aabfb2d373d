/**
 * Build contexts: the files of an image's folder that `.dockerignore` lets through, packed with
 * tar-fs the way `docker build` would send them.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import dockerignoreModule from '@balena/dockerignore';
import tar from 'tar-fs';

// CommonJS whose typings declare an ES default: under NodeNext the default import is the factory itself.
const dockerignore = dockerignoreModule as unknown as typeof dockerignoreModule.default;

export interface ContextFile {
  /** Path relative to the context root, with `/` separators. */
  path: string;
  mode: number;
  /** sha256 of the content, or of the link target for a symlink. */
  digest: string;
}

interface IgnoreRules {
  ignores: (file: string) => boolean;
  /** With `!` exceptions, a file inside an ignored folder may still be sent: folders cannot be pruned. */
  hasExceptions: boolean;
}

async function readIgnore(dir: string): Promise<IgnoreRules> {
  let text = '';
  try {
    text = await readFile(path.join(dir, '.dockerignore'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const rules = dockerignore({ ignorecase: false }).add(text);
  return { ignores: (file) => rules.ignores(file), hasExceptions: /^\s*!/m.test(text) };
}

/** Every file of the context that the build will see, sorted by path. */
export async function listContext(dir: string, dockerfile = 'Dockerfile'): Promise<ContextFile[]> {
  const rules = await readIgnore(dir);
  const files: ContextFile[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    for (const entry of entries) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      // The Dockerfile and .dockerignore always reach the daemon, whatever the rules say.
      const forced = relPath === dockerfile || relPath === '.dockerignore';
      const ignored = !forced && rules.ignores(relPath);
      const full = path.join(dir, relPath);
      const stat = await lstat(full);
      if (stat.isDirectory()) {
        if (!ignored || rules.hasExceptions) await walk(relPath);
      } else if (ignored) {
      } else if (stat.isSymbolicLink()) {
        files.push({ path: relPath, mode: stat.mode, digest: sha256(await readlink(full)) });
      } else if (stat.isFile()) {
        files.push({ path: relPath, mode: stat.mode, digest: sha256(await readFile(full)) });
      }
    }
  };
  await walk('');
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** A tar stream of exactly the listed files; owners and times are fixed so equal inputs give equal bytes. */
export function packContext(dir: string, files: readonly ContextFile[]): Readable {
  const epoch = new Date(0);
  return tar.pack(dir, {
    entries: files.map((file) => file.path),
    map: (header) => ({ ...header, mtime: epoch, uid: 0, gid: 0, uname: '', gname: '' }),
  }) as unknown as Readable;
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
