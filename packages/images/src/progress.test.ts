import { describe, expect, it } from 'vitest';
import { BuildFailedError, BuildStream } from './progress.ts';

describe('build stream', () => {
  it('reports each line with the current step', () => {
    const seen: string[] = [];
    const stream = new BuildStream('base', ({ line, step }) => seen.push(`${step ?? '-'} | ${line}`));
    stream.accept({ stream: 'Step 1/2 : FROM x\n' });
    stream.accept({ stream: ' ---> abc\nStep 2/2 : RUN true\n' });
    stream.accept({ aux: { ID: 'sha256:1' } });
    expect(seen).toEqual([
      'Step 1/2 : FROM x | Step 1/2 : FROM x',
      'Step 1/2 : FROM x |  ---> abc',
      'Step 2/2 : RUN true | Step 2/2 : RUN true',
    ]);
    expect(stream.imageId).toBe('sha256:1');
  });

  it('throws on the first error event with the daemon message and the failing step', () => {
    const stream = new BuildStream('fixture', undefined);
    stream.accept({ stream: 'Step 3/4 : RUN exit 3\n' });
    stream.accept({ stream: 'E: Unable to locate package nope\n' });
    let caught: unknown;
    try {
      stream.accept({
        errorDetail: { code: 3, message: "The command '/bin/sh -c exit 3' returned a non-zero code: 3" },
        error: "The command '/bin/sh -c exit 3' returned a non-zero code: 3",
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(BuildFailedError);
    expect((caught as BuildFailedError).step).toBe('Step 3/4 : RUN exit 3');
    expect((caught as Error).message).toBe(
      "building fixture failed at Step 3/4 : RUN exit 3: The command '/bin/sh -c exit 3' returned a non-zero code: 3" +
        '\nlast output of the step:\n  E: Unable to locate package nope',
    );
    expect((caught as BuildFailedError).outputTail).toEqual(['E: Unable to locate package nope']);
  });

  it('treats a bare error field as a failure too', () => {
    const stream = new BuildStream('x', undefined);
    expect(() => stream.accept({ error: 'no space left on device' })).toThrow(
      'building x failed: no space left on device',
    );
  });
});
