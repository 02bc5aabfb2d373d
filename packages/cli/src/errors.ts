/** How the CLI ends: 0 done, 1 the work failed, 2 bad input or an environment that cannot serve. */

import { DockerUnavailableError } from '@cosmo/images';
import { CommanderError } from 'commander';

export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A problem with what the user asked for: exit 2 with this message and nothing written. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_USAGE;
  if (error instanceof UsageError || error instanceof DockerUnavailableError) return EXIT_USAGE;
  // Everything else, a failed build among it, is work that failed.
  return EXIT_FAILED;
}
