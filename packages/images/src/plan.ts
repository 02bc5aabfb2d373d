/**
 * What a build would do: for every requested image (and its parents), the tags, the parent's reference
 * and the inputs hash computed from the files on disk, and whether the engine already has it.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { type Catalogue, type ImageSpec, repository } from './catalogue.ts';
import { type ContextFile, listContext } from './context.ts';
import { inspectImage } from './docker.ts';
import { buildLevels } from './graph.ts';
import { INPUTS_HASH_LABEL, inputsHash } from './hash.ts';
import type { Rootfs } from './rootfs.ts';

export type ImageState = 'up-to-date' | 'stale' | 'missing';

export interface PlannedImage {
  spec: ImageSpec;
  /** `cosmo/<name>:<version>`: the tag the build writes; `:latest` follows it. */
  ref: string;
  latest: string;
  /** The reference passed as the build arg BASE_IMAGE. */
  parentRef: string;
  /** Every build arg: the spec's, `<NAME>_IMAGE` for each image it uses, and BASE_IMAGE. */
  buildArgs: Record<string, string>;
  hash: string;
  files: ContextFile[];
  contextDir: string;
  state: ImageState;
  /** The existing image when there is one. */
  existing?: { id: string; size: number; hash: string | undefined };
}

export interface PlanOptions {
  root: string;
  catalogue: Catalogue;
  names: readonly string[];
  version: string;
  /** The root filesystem; without one every image built on it is stale. */
  rootfs: Rootfs | undefined;
}

/** Runs an image's prepare script with this Node; its output is part of the context it hashes. */
async function runPrepare(root: string, script: string): Promise<void> {
  try {
    await promisify(execFile)(process.execPath, [path.resolve(root, script)], { cwd: root });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`preparing the build context with ${script} failed: ${(e.stderr || e.message).trim()}`);
  }
}

export async function planImages(docker: Docker, options: PlanOptions): Promise<PlannedImage[][]> {
  const { catalogue, version, rootfs } = options;
  const hashes = new Map<string, string>();
  const levels: PlannedImage[][] = [];
  for (const level of buildLevels(catalogue, options.names)) {
    levels.push(
      await Promise.all(
        level.map(async (spec): Promise<PlannedImage> => {
          const contextDir = path.resolve(options.root, spec.context);
          if (spec.prepare) await runPrepare(options.root, spec.prepare);
          const files = await listContext(contextDir, spec.dockerfile);
          const parentRef =
            spec.parent.kind === 'image'
              ? `${repository(catalogue, spec.parent.name)}:${version}`
              : (rootfs?.ref ?? 'rootfs-missing');
          const parentHash =
            spec.parent.kind === 'image' ? hashes.get(spec.parent.name)! : (rootfs?.id ?? 'rootfs-missing');
          const usedArgs = Object.fromEntries(
            (spec.uses ?? []).map((name) => [
              `${name.toUpperCase()}_IMAGE`,
              `${repository(catalogue, name)}:${version}`,
            ]),
          );
          const usedHashes = (spec.uses ?? []).map((name) => hashes.get(name)!);
          const hash = inputsHash({
            files,
            dockerfile: spec.dockerfile,
            buildArgs: { ...spec.buildArgs, ...usedArgs },
            parentHash: [parentHash, ...usedHashes].join('+'),
          });
          hashes.set(spec.name, hash);
          const ref = `${repository(catalogue, spec.name)}:${version}`;
          const found = await inspectImage(docker, ref);
          const existing = found && {
            id: found.Id,
            size: found.Size,
            hash: found.Config?.Labels?.[INPUTS_HASH_LABEL],
          };
          const state: ImageState = !existing ? 'missing' : existing.hash === hash ? 'up-to-date' : 'stale';
          return {
            spec,
            buildArgs: { ...spec.buildArgs, ...usedArgs, BASE_IMAGE: parentRef },
            ref,
            latest: `${repository(catalogue, spec.name)}:latest`,
            parentRef,
            hash,
            files,
            contextDir,
            state,
            ...(existing ? { existing } : {}),
          };
        }),
      ),
    );
  }
  return levels;
}
