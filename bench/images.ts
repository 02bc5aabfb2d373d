/**
 * Image benchmark: for every catalogue image, its size, a cold build (no layer cache) and the
 * no-change rebuild (everything found up to date). Measures and records; never passes or fails.
 * Run: pnpm bench:images
 */
import path from 'node:path';
import { buildImages, connectDocker, defaultCatalogue, projectInfo } from '@cosmo/images';
import { record } from './record.ts';

const root = path.resolve(import.meta.dirname, '..');
/** The images with a size target; the others are recorded only. */
const SIZE_TARGETS_MB: Record<string, number> = { base: 90, manager: 200, aio: 400 };
const docker = await connectDocker();
const project = await projectInfo(root);
const base = { ...project, catalogue: defaultCatalogue, names: [] };

console.error('cold build of every image (no layer cache)...');
const cold = await buildImages(docker, { ...base, noCache: true, concurrency: 1 });

console.error('no-change rebuild...');
const started = performance.now();
const again = await buildImages(docker, base);
const rebuildSeconds = (performance.now() - started) / 1000;
// Per image, the whole command as a user runs it (`cosmo images build <name>` with nothing changed):
// its context prepared and hashed, its parents checked, found up to date.
const perImage: number[] = [];
for (const image of cold) {
  const t = performance.now();
  const result = await buildImages(docker, { ...base, names: [image.name] });
  if (result.some((r) => r.status !== 'up-to-date'))
    throw new Error(`${image.name} was rebuilt with nothing changed`);
  perImage.push((performance.now() - t) / 1000);
}

await record({
  name: 'images',
  title: 'Images: size, cold build, no-change rebuild',
  command: 'pnpm bench:images',
  columns: [
    'image',
    'size (MB)',
    'size target',
    'verdict',
    'cold build (s)',
    'no-change `cosmo images build <image>` (s)',
  ],
  rows: cold.map((image, i) => {
    const target = SIZE_TARGETS_MB[image.name];
    return [
      image.ref,
      (image.size / 1e6).toFixed(1),
      target === undefined ? '-' : `<= ${target} MB`,
      target === undefined ? '-' : image.size / 1e6 <= target ? 'met' : 'missed',
      image.seconds.toFixed(1),
      perImage[i]!.toFixed(2),
    ];
  }),
  notes: [
    `whole no-change \`cosmo images build\` pass: ${rebuildSeconds.toFixed(2)} s for ${again.length} image(s), every context prepared and hashed`,
    'no-change per image: the builder called for that image alone, hashing included (its context, the manager bundle where it applies, its parents)',
    'cold build: one image at a time, `nocache`, apt downloads included; the root filesystem is not rebuilt',
  ],
  raw: { cold, again, rebuildSeconds, perImage },
});
