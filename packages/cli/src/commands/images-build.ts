/** `cosmo images build [names...]`: builds images and their parents, skipping those up to date. */
import { buildImages, connectDocker, defaultCatalogue, projectInfo } from '@cosmo/images';
import type { Command } from 'commander';
import { checkImageNames } from '../local-images.ts';
import { progressPrinter } from '../progress.ts';
import { projectRoot } from '../root.ts';

interface BuildFlags {
  force?: boolean;
  json?: boolean;
}

export function registerImagesBuild(images: Command): void {
  images
    .command('build')
    .description('build images (and the images they are built FROM); skip those whose inputs are unchanged')
    .argument(
      '[names...]',
      `images to build (default: all): ${defaultCatalogue.images.map((i) => i.name).join(', ')}`,
    )
    .option('-f, --force', 'rebuild even when an image with the same inputs hash exists')
    .option('--json', 'print the result as JSON on stdout (progress goes to stderr)')
    .action(async (names: string[], flags: BuildFlags) => {
      checkImageNames(names);
      const docker = await connectDocker();
      const project = await projectInfo(projectRoot());
      const printer = progressPrinter(flags.json ? process.stderr : process.stdout);
      const started = performance.now();
      try {
        const results = await buildImages(docker, {
          ...project,
          catalogue: defaultCatalogue,
          names,
          force: Boolean(flags.force),
          onProgress: printer.listener,
          onLog: printer.log,
        });
        printer.done();
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ images: results }, null, 2)}\n`);
          return;
        }
        for (const image of results) {
          const what = image.status === 'built' ? `built in ${image.seconds.toFixed(1)} s` : 'up to date';
          printer.log(`${image.ref.padEnd(24)} ${what.padEnd(18)} ${(image.size / 1e6).toFixed(1)} MB`);
        }
        const built = results.filter((image) => image.status === 'built').length;
        printer.log(
          `${results.length} image(s): ${built} built, ${results.length - built} up to date, ` +
            `${((performance.now() - started) / 1000).toFixed(1)} s`,
        );
      } finally {
        printer.done();
      }
    });
}
