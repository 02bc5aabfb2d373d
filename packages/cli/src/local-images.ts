/** The images a command needs, built in the local engine when missing or stale (with progress). */
import { type BuiltImage, buildImages, defaultCatalogue, findImage, projectInfo } from '@cosmo/images';
import type Docker from 'dockerode';
import { UsageError } from './errors.ts';
import { progressPrinter } from './progress.ts';
import { projectRoot } from './root.ts';

export async function ensureImages(
  docker: Docker,
  names: string[],
  say: (line: string) => void,
): Promise<BuiltImage[]> {
  const printer = progressPrinter(process.stdout);
  say(`checking images: ${names.join(', ')}`);
  try {
    const results = await buildImages(docker, {
      ...(await projectInfo(projectRoot())),
      catalogue: defaultCatalogue,
      names,
      onProgress: printer.listener,
      onLog: printer.log,
    });
    const built = results.filter((r) => r.status === 'built').map((r) => r.name);
    printer.done();
    say(built.length ? `built ${built.join(', ')}` : 'images up to date');
    // The builder also reports the parents it checked; the caller asked for these.
    return results.filter((r) => names.includes(r.name));
  } finally {
    printer.done();
  }
}

/** Refuses a name that is not in the catalogue, with the catalogue's message naming the known ones. */
export function checkImageNames(names: string[]): void {
  for (const name of names) {
    try {
      findImage(defaultCatalogue, name);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
}
