import { describe, expect, it } from 'vitest';
import { WaitTimeout, waitFor, withTimeout } from './wait.ts';

describe('waitFor', () => {
  it('returns the first value an attempt gives, trying again after undefined and after errors', async () => {
    const seen: number[] = [];
    const value = await waitFor(
      'the third try',
      async (n) => {
        seen.push(n);
        if (n === 1) throw new Error('not yet');
        return n === 3 ? 'ready' : undefined;
      },
      { delayMs: 1 },
    );
    expect(value).toBe('ready');
    expect(seen).toEqual([1, 2, 3]);
  });

  it('gives up at the deadline with what it waited for and the last error', async () => {
    const started = Date.now();
    const error = await waitFor(
      'a broker',
      async () => {
        throw new Error('connection refused');
      },
      { timeoutMs: 120, delayMs: 50 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeout);
    expect((error as Error).message).toBe(
      'timed out after 120 ms waiting for a broker (last error: connection refused)',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(115);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('tries once more at the deadline itself rather than sleeping past it', async () => {
    let tries = 0;
    const value = await waitFor('the last chance', async () => (++tries === 2 ? 'late' : undefined), {
      timeoutMs: 30,
      delayMs: 10_000,
    });
    expect(value).toBe('late');
  });

  it('grows its delay as told, and stops at once on an error the caller will not retry', async () => {
    const delays: number[] = [];
    const error = await waitFor(
      'anything',
      async (n) => {
        if (n === 3) throw new Error('wrong password');
        return undefined;
      },
      {
        delayMs: (n) => {
          delays.push(n * 2);
          return n * 2;
        },
        onError: (e) => ((e as Error).message === 'wrong password' ? 'throw' : 'retry'),
      },
    ).catch((e: unknown) => e);
    expect((error as Error).message).toBe('wrong password');
    expect(delays).toEqual([2, 4]);
  });
});

describe('withTimeout', () => {
  it('passes a value through, and names what took too long', async () => {
    expect(await withTimeout(Promise.resolve(7), 50, 'a lookup')).toBe(7);
    await expect(withTimeout(new Promise(() => {}), 20, 'resolving db1')).rejects.toThrow(
      'resolving db1 took over 20 ms',
    );
  });
});
