/**
 * Waiting for a platform to come up, as `cosmo up` and `cosmo deploy` do: poll once a second, print
 * what the platform says about itself whenever it changes (and every 10 s), give up after a timeout.
 */
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
  for (;;) {
    const elapsed = Math.round((Date.now() - started) / 1000);
    const outcome = await options.poll();
    if ('done' in outcome) return outcome.done;
    if (outcome.state !== last || elapsed - lastPrinted >= 10) {
      options.say(`  ${elapsed}s: ${outcome.state}`);
      lastPrinted = elapsed;
    }
    last = outcome.state;
    if (elapsed > options.timeout) {
      throw new Error(`not healthy after ${options.timeout} s (${outcome.state}); ${options.hint}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/** `manager OK, db Degraded, broker OK`. */
export function servicesLine(status: ClusterStatus): string {
  return Object.entries(status.services)
    .map(([name, service]) => `${name} ${service.status}`)
    .join(', ');
}
