/**
 * Integration tests' global set-up: builds every catalogue image whose inputs changed (the builder
 * skips an image whose input hash matches), so the suites always test the code as it stands.
 */
import path from 'node:path';
import { buildImages, connectDocker, defaultCatalogue, projectInfo } from '@cosmo/images';

export default async function setup(): Promise<void> {
  const root = path.resolve(import.meta.dirname, '../..');
  const docker = await connectDocker();
  const started = Date.now();
  const results = await buildImages(docker, {
    ...(await projectInfo(root)),
    catalogue: defaultCatalogue,
    names: defaultCatalogue.images.map((image) => image.name),
  });
  const built = results.filter((result) => result.status === 'built').map((result) => result.name);
  process.stdout.write(
    `images: ${built.length ? `built ${built.join(', ')}` : 'all up to date'} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
  );
}
