/** @cosmo/images: the image catalogue, its build graph, and builds through the Docker API. */
export { aptMirror, parseAptSources } from './apt-mirror.ts';
export { type BuildOptions, type BuiltImage, buildImages, imageLabels } from './build.ts';
export {
  type Catalogue,
  DEFAULT_PREFIX,
  defaultCatalogue,
  findImage,
  type ImageSpec,
  type Parent,
  platformImages,
  repository,
} from './catalogue.ts';
export { type ContextFile, listContext, packContext } from './context.ts';
export { connectDocker, DockerUnavailableError, dockerEndpoint, inspectImage } from './docker.ts';
export { buildLevels, closure } from './graph.ts';
export { INPUTS_HASH_LABEL, inputsHash } from './hash.ts';
export { type ImageState, type PlannedImage, planImages } from './plan.ts';
export { type BuildEvent, BuildFailedError, BuildStream, type ProgressListener } from './progress.ts';
export { type ProjectInfo, projectInfo } from './project.ts';
export { BOOTSTRAPPED_ROOTFS, ensureRootfs, findRootfs, type Rootfs, UPSTREAM_ROOTFS } from './rootfs.ts';
