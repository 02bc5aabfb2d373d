import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tarStream from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listContext, packContext } from './context.ts';
import { inputsHash } from './hash.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cosmo-context-'));
  await writeFile(path.join(dir, 'Dockerfile'), 'FROM scratch\nCOPY app /app\n');
  await mkdir(path.join(dir, 'app'));
  await writeFile(path.join(dir, 'app', 'main.js'), 'console.log(1)\n');
  await mkdir(path.join(dir, 'app', 'node_modules'));
  await writeFile(path.join(dir, 'app', 'node_modules', 'big.js'), 'x');
  await writeFile(path.join(dir, 'notes.md'), 'ignored');
  await writeFile(path.join(dir, '.dockerignore'), '**/node_modules\n*.md\nDockerfile\n');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const hashOf = async (parentHash = 'p') =>
  inputsHash({ files: await listContext(dir), dockerfile: 'Dockerfile', buildArgs: { A: '1' }, parentHash });

describe('build context', () => {
  it('honours .dockerignore but always sends the Dockerfile and .dockerignore', async () => {
    const files = (await listContext(dir)).map((file) => file.path);
    expect(files).toEqual(['.dockerignore', 'Dockerfile', 'app/main.js']);
  });

  it('packs exactly the listed files', async () => {
    const names: string[] = [];
    const extract = tarStream.extract();
    extract.on('entry', (header, stream, next) => {
      names.push(header.name);
      stream.resume();
      stream.on('end', next);
    });
    const finished = new Promise<void>((resolve) => extract.on('finish', () => resolve()));
    packContext(dir, await listContext(dir)).pipe(extract);
    await finished;
    expect(names.sort()).toEqual(['.dockerignore', 'Dockerfile', 'app/main.js']);
  });
});

describe('inputs hash', () => {
  it('is stable for the same inputs', async () => {
    expect(await hashOf()).toBe(await hashOf());
    expect(await hashOf()).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('changes with a file, the parent, a build arg or the executable bit', async () => {
    const before = await hashOf();
    expect(await hashOf('other parent')).not.toBe(before);
    const files = await listContext(dir);
    expect(inputsHash({ files, dockerfile: 'Dockerfile', buildArgs: { A: '2' }, parentHash: 'p' })).not.toBe(
      before,
    );
    const executable = files.map((file) =>
      file.path === 'app/main.js' ? { ...file, mode: 0o100755 } : file,
    );
    expect(
      inputsHash({ files: executable, dockerfile: 'Dockerfile', buildArgs: { A: '1' }, parentHash: 'p' }),
    ).not.toBe(before);
    await writeFile(path.join(dir, 'app', 'main.js'), 'console.log(2)\n');
    expect(await hashOf()).not.toBe(before);
  });

  it('ignores files that .dockerignore keeps out', async () => {
    const before = await hashOf();
    await writeFile(path.join(dir, 'notes.md'), 'changed');
    await writeFile(path.join(dir, 'app', 'node_modules', 'big.js'), 'changed');
    expect(await hashOf()).toBe(before);
  });
});

describe('build context exceptions', () => {
  it('sends a file re-included with ! from inside an ignored folder', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'cosmo-context-'));
    try {
      await mkdir(path.join(root, 'build'));
      await writeFile(path.join(root, 'Dockerfile'), 'FROM scratch\n');
      await writeFile(path.join(root, 'build', 'app.js'), 'x');
      await writeFile(path.join(root, 'build', 'junk.txt'), 'x');
      await writeFile(path.join(root, '.dockerignore'), '*\n!Dockerfile\n!build/app.js\n');
      expect((await listContext(root)).map((file) => file.path)).toEqual([
        '.dockerignore',
        'Dockerfile',
        'build/app.js',
      ]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
