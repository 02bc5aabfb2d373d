import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runScript, SCRIPT_LIMITS, type ScriptRun } from './script-runner.ts';

// `ctx` as in the image: the client, run by this Node, first on the script's PATH.
let bin: string;
beforeAll(async () => {
  bin = await mkdtemp(path.join(os.tmpdir(), 'cosmo-ctx-bin-'));
  const client = path.resolve(import.meta.dirname, 'ctx-client.ts');
  await writeFile(path.join(bin, 'ctx'), `#!/bin/sh\nexec "${process.execPath}" "${client}" "$@"\n`, {
    mode: 0o755,
  });
});

function run(script: string, overrides: Partial<ScriptRun> = {}) {
  const lines: string[] = [];
  const calls: string[][] = [];
  const started = runScript({
    name: 'scripts/op.sh',
    content: Buffer.from(script),
    env: { PATH: `${bin}:/usr/bin:/bin`, GREETING: 'hello from inputs' },
    timeoutSeconds: 30,
    baseDir: path.join(os.tmpdir(), 'cosmo-operations-test'),
    uidBase: 0,
    ctx: async (args) => {
      calls.push(args);
      if (args[0] === 'instance' && args[1] === 'id') return 'app_x1';
      if (args[0] === 'fail') throw new Error('no such thing');
      return null;
    },
    onLine: (line) => lines.push(line),
    ...overrides,
  });
  return { started, lines, calls };
}

describe('an operation script', () => {
  it('runs by its shebang with its inputs as environment variables, streaming its output', async () => {
    const { started, lines } = run(
      '#!/bin/bash\necho "$GREETING"\necho "to stderr" >&2\necho "home=$HOME"\nexit 0\n',
    );
    const result = await (await started).done;
    expect(result.exitCode).toBe(0);
    expect(lines).toContain('hello from inputs');
    expect(lines).toContain('to stderr');
    expect(lines.find((l) => l.startsWith('home='))).toMatch(/cosmo-operations-test\/op-\w+\/work$/);
  });

  it('reaches the worker through ctx, which prints answers and fails on errors', async () => {
    const { started, lines, calls } = run(
      '#!/bin/bash\nset -e\nctx logger info "a log line"\nid=$(ctx instance id)\necho "id is $id"\nctx fail || echo "ctx failed with $?"\n',
    );
    const result = await (await started).done;
    expect(result.exitCode).toBe(0);
    expect(calls).toContainEqual(['logger', 'info', 'a log line']);
    expect(lines).toContain('id is app_x1');
    expect(lines).toContain('ctx failed with 1');
  });

  it('runs under its limits, which it cannot raise, with umask 077', async () => {
    const { started, lines } = run(
      '#!/bin/bash\necho "limits $(ulimit -Hu) $(ulimit -Hn) $(ulimit -Hf) $(ulimit -Hv) $(ulimit -Ht)"\necho "umask $(umask)"\nif ulimit -n 4096 2>/dev/null; then echo raised; else echo "not raised"; fi\n',
    );
    expect((await (await started).done).exitCode).toBe(0);
    const l = SCRIPT_LIMITS;
    // -f and -v in KiB; CPU seconds: the timeout (30 s) and a margin.
    expect(lines).toContain(
      `limits ${l.processes} ${l.openFiles} ${l.fileSizeMb * 1024} ${l.addressSpaceMb * 1024} 35`,
    );
    expect(lines).toContain('umask 0077');
    expect(lines).toContain('not raised');
  });

  it('runs a script without a shebang with bash, and Python scripts with python3', async () => {
    const { started } = run('echo plain; exit 7\n');
    expect((await (await started).done).exitCode).toBe(7);
    let python = true;
    try {
      execFileSync('python3', ['-c', 'pass']);
    } catch {
      python = false;
    }
    if (python) {
      const py = run('import os\nprint(os.environ["GREETING"].upper())\n', { name: 'scripts/op.py' });
      const result = await (await py.started).done;
      expect(result.exitCode).toBe(0);
      expect(py.lines).toContain('HELLO FROM INPUTS');
    }
  });

  it('keeps the last lines of a failure', async () => {
    const { started } = run('#!/bin/bash\nfor i in $(seq 1 20); do echo "line $i"; done\nexit 3\n');
    const result = await (await started).done;
    expect(result.exitCode).toBe(3);
    expect(result.lastLines.at(-1)).toBe('line 20');
    expect(result.lastLines.length).toBeLessThanOrEqual(10);
  });

  it('ends a script that runs past its timeout, with everything it started', async () => {
    const marker = path.join(os.tmpdir(), `cosmo-bg-${process.pid}`);
    const { started } = run(
      `#!/bin/bash\n(sleep 30; touch ${marker}) &\necho $! > ${marker}.pid\nsleep 30\n`,
      {
        timeoutSeconds: 1,
      },
    );
    const begun = Date.now();
    const result = await (await started).done;
    expect(result.timedOut).toBe(true);
    expect(Date.now() - begun).toBeLessThan(10_000);
    const { readFile } = await import('node:fs/promises');
    const pid = Number((await readFile(`${marker}.pid`, 'utf8')).trim());
    // The background child is gone too (or a zombie waiting for whoever adopted it to reap it).
    const state = await readFile(`/proc/${pid}/stat`, 'utf8').then(
      (stat) => stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0],
      () => 'gone',
    );
    expect(['gone', 'Z']).toContain(state);
  });

  it('is ended at once by kill(), process group and all', async () => {
    const { started } = run('#!/bin/bash\nsleep 30 &\nsleep 30\n');
    const running = await started;
    setTimeout(() => running.kill(), 300);
    const result = await running.done;
    expect(result.killed).toBe(true);
    expect(result.exitCode).toBeNull();
  });
});
