/**
 * The inputs hash of an image: its context's files, its build args and its parent's hash. An image
 * whose label `io.cosmo.inputs-hash` equals the hash computed now is up to date and is not rebuilt.
 */
import { type ContextFile, sha256 } from './context.ts';

export const INPUTS_HASH_LABEL = 'io.cosmo.inputs-hash';

export interface HashInputs {
  files: readonly ContextFile[];
  dockerfile: string;
  buildArgs: Readonly<Record<string, string>>;
  /** The parent image's inputs hash (or, for the root filesystem, its image id). */
  parentHash: string;
}

export function inputsHash(inputs: HashInputs): string {
  const lines = [
    `dockerfile ${inputs.dockerfile}`,
    `parent ${inputs.parentHash}`,
    ...Object.keys(inputs.buildArgs)
      .sort()
      .map((key) => `arg ${key}=${inputs.buildArgs[key]}`),
    // Only the executable bit matters to a build; other mode bits vary with the checkout's umask.
    ...inputs.files.map((file) => `file ${file.path} ${file.mode & 0o111 ? 'x' : '-'} ${file.digest}`),
  ];
  return `sha256:${sha256(lines.join('\n'))}`;
}
