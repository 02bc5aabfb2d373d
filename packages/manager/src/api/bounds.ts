/**
 * Limits on the work one request can cause: how deep and how large a decoded document may be. The
 * walk is iterative (a 5,000-deep value cannot overflow the stack) and stops as soon as a limit is
 * passed (a value that aliases one large part many times is never expanded in full).
 */
import { ApiError, badParameters } from './errors.ts';

export const tooLarge = (message: string) => new ApiError(413, 'payload_too_large_error', message);

export interface Limits {
  /** Nesting of mappings and lists. */
  maxDepth: number;
  /** Characters of its strings and keys together, counting each alias as a copy. */
  maxChars: number;
}

/** Throws a 400 (too deep) or 413 (too large) naming `what` and the limit. */
export function checkBounds(value: unknown, what: string, limits: Limits): void {
  const stack: [unknown, number][] = [[value, 1]];
  let chars = 0;
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item === 'string') chars += item.length;
    else if (item !== null && typeof item === 'object') {
      if (depth > limits.maxDepth) {
        throw badParameters(`${what} is nested deeper than ${limits.maxDepth} levels`);
      }
      for (const [key, child] of Object.entries(item)) {
        chars += key.length;
        stack.push([child, depth + 1]);
      }
    } else chars += 8;
    if (chars > limits.maxChars) {
      throw tooLarge(`${what} expands to more than ${limits.maxChars} characters (the limit)`);
    }
  }
}
