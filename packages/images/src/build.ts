/**
 * Builds planned images through the Docker API with the classic builder (no BuildKit, no registry),
 * level by level: an image starts only after its parent is built or found up to date.
 */
import type Docker from 'dockerode';
import { type Catalogue, repository } from './catalogue.ts';
import { packContext } from './context.ts';
import { INPUTS_HASH_LABEL } from './hash.ts';
import { type PlannedImage, planImages } from './plan.ts';
import { type BuildEvent, BuildStream, type ProgressListener } from './progress.ts';
import { ensureRootfs } from './rootfs.ts';

export interface BuildOptions {
  root: string;
  catalogue: Catalogue;
  /** Images to build; their parents come along. Empty: the whole catalogue. */
  names: readonly string[];
  version: string;
  revision: string;
  source: string;
  force?: boolean;
  /** Build without the engine's layer cache (a cold build, for benchmarks). */
  noCache?: boolean;
  /** Images of one level built at once (two cores: two by default). */
  concurrency?: number;
  onProgress?: ProgressListener;
  /** Messages about the build as a whole (root filesystem, skips). */
  onLog?: (line: string) => void;
}

export interface BuiltImage {
  name: string;
  ref: string;
  tags: string[];
  id: string;
  hash: string;
  status: 'built' | 'up-to-date';
  seconds: number;
  size: number;
}

export function imageLabels(image: PlannedImage, options: BuildOptions): Record<string, string> {
  return {
    'org.opencontainers.image.title': image.ref.split(':')[0]!,
    'org.opencontainers.image.description': image.spec.description,
    'org.opencontainers.image.version': options.version,
    'org.opencontainers.image.revision': options.revision,
    'org.opencontainers.image.created': new Date().toISOString(),
    'org.opencontainers.image.source': options.source,
    'io.cosmo.image': image.spec.name,
    [INPUTS_HASH_LABEL]: image.hash,
  };
}

async function buildOne(docker: Docker, image: PlannedImage, options: BuildOptions): Promise<string> {
  const stream = await docker.buildImage(
    packContext(image.contextDir, image.files) as unknown as NodeJS.ReadableStream,
    {
      t: image.ref,
      dockerfile: image.spec.dockerfile,
      buildargs: image.buildArgs,
      labels: imageLabels(image, options),
      version: '1',
      rm: true,
      forcerm: true,
      pull: false,
      // A cold build (the images benchmark) must not take its layers from the engine's cache.
      nocache: options.noCache ?? false,
    } as Docker.ImageBuildOptions,
  );
  const progress = new BuildStream(image.spec.name, options.onProgress);
  await new Promise<void>((resolve, reject) => {
    let failure: unknown;
    docker.modem.followProgress(
      stream,
      (error: Error | null) => ((error ?? failure) ? reject(error ?? failure) : resolve()),
      (event: BuildEvent) => {
        if (failure) return;
        try {
          progress.accept(event);
        } catch (error) {
          failure = error;
        }
      },
    );
  });
  const built = await docker.getImage(image.ref).inspect();
  return built.Id;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export async function buildImages(docker: Docker, options: BuildOptions): Promise<BuiltImage[]> {
  const log = options.onLog ?? (() => {});
  const rootfs = await ensureRootfs(docker, log);
  const levels = await planImages(docker, { ...options, rootfs });
  const results: BuiltImage[] = [];
  for (const level of levels) {
    const done = await mapLimit(level, options.concurrency ?? 2, async (image): Promise<BuiltImage> => {
      const started = performance.now();
      const fresh = image.state === 'up-to-date' && !options.force && !options.noCache;
      if (fresh) log(`${image.spec.name}: up to date (${image.ref})`);
      const id = fresh ? image.existing!.id : await buildOne(docker, image, options);
      await docker.getImage(id).tag({ repo: repository(options.catalogue, image.spec.name), tag: 'latest' });
      const size = (await docker.getImage(id).inspect()).Size;
      return {
        name: image.spec.name,
        ref: image.ref,
        tags: [image.ref, image.latest],
        id,
        hash: image.hash,
        status: fresh ? 'up-to-date' : 'built',
        seconds: (performance.now() - started) / 1000,
        size,
      };
    });
    results.push(...done);
  }
  return results;
}
