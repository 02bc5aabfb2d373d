/**
 * `cosmo images push [names...] [--registry HOST:PORT]`: builds what is missing, then tags and pushes
 * each image to a registry and prints the digest it got, the name stacks use (`name@sha256:…`).
 */
import { existsSync } from 'node:fs';
import { connectDocker, defaultCatalogue, platformImages } from '@cosmo/images';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { checkImageNames, ensureImages } from '../local-images.ts';
import { CONFIG_FILE, cosmoVersion, loadProject } from '../project.ts';
import { checkRegistry, type Pushed, pushImage } from '../registry.ts';

interface PushFlags {
  registry?: string;
  config: string;
  json?: boolean;
}

export function registerImagesPush(images: Command): void {
  images
    .command('push')
    .description('tag and push images to a registry (built first when missing); prints each digest')
    .argument(
      '[names...]',
      `images to push (default: all): ${defaultCatalogue.images.map((i) => i.name).join(', ')}`,
    )
    .option(
      '-r, --registry <host:port>',
      "the registry, as this machine reaches it (default: cosmo.yaml's images.registry)",
    )
    .option('-c, --config <file>', 'the configuration (for images.registry, prefix and tag)', CONFIG_FILE)
    .option('--json', 'print the pushed images and digests as JSON')
    .action(async (names: string[], flags: PushFlags) => {
      checkImageNames(names);
      const config = existsSync(flags.config) ? (await loadProject(flags.config)).config : undefined;
      const registry = flags.registry ?? config?.images.registry ?? '';
      if (!registry) {
        throw new UsageError(
          `no registry: pass --registry HOST:PORT, or set images.registry in ${flags.config}`,
        );
      }
      checkRegistry(registry, '--registry');
      const say = (line: string) => (flags.json ? process.stderr : process.stdout).write(`${line}\n`);
      const docker = await connectDocker();
      // Without names, the platform's images: a test fixture is pushed only when named.
      const wanted = names.length > 0 ? names : platformImages(defaultCatalogue);
      const built = await ensureImages(docker, wanted, say);
      const pushed = await pushAll(
        docker,
        built,
        registry,
        {
          prefix: config?.images.prefix ?? defaultCatalogue.prefix,
          tag: config?.images.tag ?? (await cosmoVersion()),
        },
        say,
      );
      if (flags.json) process.stdout.write(`${JSON.stringify({ registry, images: pushed }, null, 2)}\n`);
    });
}

/** Pushes each image in turn, one line each with its digest and time. */
export async function pushAll(
  docker: Parameters<typeof pushImage>[0],
  images: { name: string; ref: string }[],
  registry: string,
  naming: { prefix: string; tag: string },
  say: (line: string) => void,
): Promise<Pushed[]> {
  const pushed: Pushed[] = [];
  for (const image of images) {
    const started = performance.now();
    const result = await pushImage(docker, { name: image.name, local: image.ref, ...naming }, registry);
    say(`pushed ${result.ref} ${result.digest} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    pushed.push(result);
  }
  return pushed;
}
