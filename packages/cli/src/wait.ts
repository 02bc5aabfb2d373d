/**
 * Waiting for a platform to come up, as `cosmo up` and `cosmo deploy` do: poll once a second, print
 * what the platform says about itself whenever it changes (and every 10 s), give up after a timeout.
 */

import { WaitTimeout, waitFor } from '@cosmo/wait';
import type { ClusterStatus } from './cluster.ts';

/** One poll's outcome: done (with a value), or a line saying where things stand. */
export type Poll<T> = { done: T } | { state: string };

export async function waitUntil<T>(options: {
  timeout: number;
  say: (line: string) => void;
  poll: () => Promise<Poll<T>>;
  /** What to look at when it never comes up: ends the timeout's message. */
  hint: string;
}): Promise<T> {
  const started = Date.now();
  let last = '';
  let lastPrinted = 0;
  try {
    return await waitFor(
      'the platform',
      async () => {
        const elapsed = Math.round((Date.now() - started) / 1000);
        const outcome = await options.poll();
        if ('done' in outcome) return outcome.done;
        if (outcome.state !== last || elapsed - lastPrinted >= 10) {
          options.say(`  ${elapsed}s: ${outcome.state}`);
          lastPrinted = elapsed;
        }
        last = outcome.state;
        return undefined;
      },
      // A poll that throws knows the platform will not come up by waiting: stop at once.
      { timeoutMs: options.timeout * 1000, delayMs: 1_000, onError: () => 'throw' },
    );
  } catch (error) {
    if (!(error instanceof WaitTimeout)) throw error;
    throw new Error(`not healthy after ${options.timeout} s (${last}); ${options.hint}`);
  }
}

/** `manager OK, db Degraded, broker OK`. */
export function servicesLine(status: ClusterStatus): string {
  return Object.entries(status.services)
    .map(([name, service]) => `${name} ${service.status}`)
    .join(', ');
}
