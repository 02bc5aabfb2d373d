/** `cosmo images list`: every catalogue image, its tag, size, and whether it is up to date. */
import { connectDocker, defaultCatalogue, findRootfs, planImages, projectInfo } from '@cosmo/images';
import type { Command } from 'commander';
import { projectRoot } from '../root.ts';

export function registerImagesList(images: Command): void {
  images
    .command('list')
    .description('list the catalogue images: tag, size, and up to date / stale / missing')
    .option('--json', 'print as JSON')
    .action(async (flags: { json?: boolean }) => {
      const docker = await connectDocker();
      const project = await projectInfo(projectRoot());
      const rootfs = await findRootfs(docker);
      const levels = await planImages(docker, { ...project, catalogue: defaultCatalogue, names: [], rootfs });
      const rows = levels.flat().map((image) => ({
        name: image.spec.name,
        tag: image.ref,
        size: image.existing?.size ?? null,
        state: image.state,
      }));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ images: rows }, null, 2)}\n`);
        return;
      }
      const lines = [['NAME', 'TAG', 'SIZE', 'STATE']];
      for (const row of rows) {
        const size = row.size === null ? '-' : `${(row.size / 1e6).toFixed(1)} MB`;
        lines.push([row.name, row.tag, size, row.state.replace(/-/g, ' ')]);
      }
      const widths = lines[0]!.map((_, col) => Math.max(...lines.map((line) => line[col]!.length)));
      for (const line of lines) {
        process.stdout.write(
          `${line
            .map((cell, col) => cell.padEnd(widths[col]!))
            .join('  ')
            .trimEnd()}\n`,
        );
      }
    });
}
