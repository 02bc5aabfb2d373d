/**
 * The one way Cosmo waits: the CLI for a platform to come up, the manager for its database at start,
 * tests and benchmarks for a state. `waitFor` calls its attempt until it gives a value (not
 * undefined), between tries sleeping a fixed or growing delay, and past the deadline throws a
 * `WaitTimeout` that names what was awaited and the last error seen.
 */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class WaitTimeout extends Error {
  override name = 'WaitTimeout';
  /** The last error an attempt threw, if any. */
  readonly lastError: unknown;
  constructor(what: string, ms: number, lastError: unknown) {
    const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
    super(`timed out after ${ms} ms waiting for ${what}${reason}`);
    this.lastError = lastError;
  }
}

export interface WaitOptions {
  /** Give up after this long (default: never). */
  timeoutMs?: number;
  /** Between tries: a fixed delay, or one computed from the number of the try that just failed (1, 2, …). */
  delayMs?: number | ((attempt: number) => number);
  /**
   * An attempt's error: 'retry' (the default) tries again, 'throw' stops waiting at once with it.
   * Called with each error, so a caller can log every tenth.
   */
  onError?: (error: unknown, attempt: number) => 'retry' | 'throw';
}

/** Calls `attempt` until it resolves to a value other than undefined; see the module comment. */
export async function waitFor<T>(
  what: string,
  attempt: (n: number) => Promise<T | undefined>,
  options: WaitOptions = {},
): Promise<T> {
  const { timeoutMs = Number.POSITIVE_INFINITY, delayMs = 250, onError } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (let n = 1; ; n++) {
    try {
      const value = await attempt(n);
      if (value !== undefined) return value;
    } catch (error) {
      if (onError?.(error, n) === 'throw') throw error;
      lastError = error;
    }
    const delay = typeof delayMs === 'number' ? delayMs : delayMs(n);
    if (Date.now() + delay > deadline) {
      // One last try at the deadline itself, unless it has passed already.
      if (Date.now() < deadline) await sleep(deadline - Date.now());
      else throw new WaitTimeout(what, timeoutMs, lastError);
    } else {
      await sleep(delay);
    }
  }
}

/** `promise`, or an error naming `what` once `ms` have passed. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}
