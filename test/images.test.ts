/**
 * The image builder against a real Docker Engine: the base and a fixture image built on it, their
 * labels, skipping unchanged images, rebuilding changed ones, and a broken Dockerfile failing loudly.
 */
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  BuildFailedError,
  type BuildOptions,
  buildImages,
  type Catalogue,
  connectDocker,
  INPUTS_HASH_LABEL,
} from '@cosmo/images';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosmo, REPO_ROOT } from './support/cli.ts';

const PREFIX = 'cosmo-itest';
let docker: Docker;
let work: string;
let catalogue: Catalogue;

const options = (extra: Partial<BuildOptions> = {}): BuildOptions => ({
  root: REPO_ROOT,
  catalogue,
  names: [],
  version: '0.0.0-itest',
  revision: 'itest-revision',
  source: 'https://example.invalid/cosmo',
  ...extra,
});

async function removeTestImages(): Promise<void> {
  const images = await docker.listImages({ filters: { reference: [`${PREFIX}/*`] } });
  for (const image of images)
    await docker
      .getImage(image.Id)
      .remove({ force: true })
      .catch(() => {});
}

beforeAll(async () => {
  docker = await connectDocker();
  await removeTestImages();
  work = await mkdtemp(path.join(os.tmpdir(), 'cosmo-itest-'));
  await cp(path.join(REPO_ROOT, 'test/fixtures/images/hello'), path.join(work, 'hello'), { recursive: true });
  catalogue = {
    prefix: PREFIX,
    images: [
      {
        name: 'base',
        context: 'images/base',
        dockerfile: 'Dockerfile',
        parent: { kind: 'rootfs' },
        buildArgs: {},
        description: 'base',
      },
      {
        name: 'hello',
        context: path.join(work, 'hello'),
        dockerfile: 'Dockerfile',
        parent: { kind: 'image', name: 'base' },
        buildArgs: {},
        description: 'fixture',
      },
    ],
  };
});

afterAll(async () => {
  await removeTestImages();
  await rm(work, { recursive: true, force: true });
});

describe('image builder', () => {
  it('builds the base and an image on it, labelled, and the image runs', async () => {
    const steps: string[] = [];
    const results = await buildImages(docker, options({ onProgress: ({ line }) => steps.push(line) }));
    expect(results.map((r) => [r.name, r.status])).toEqual([
      ['base', 'built'],
      ['hello', 'built'],
    ]);
    expect(steps.some((line) => /^Step \d+\/\d+ : COPY greeting/.test(line))).toBe(true);

    const base = await docker.getImage(`${PREFIX}/base:latest`).inspect();
    expect(base.Size).toBeLessThanOrEqual(90e6);
    const hello = await docker.getImage(`${PREFIX}/hello:0.0.0-itest`).inspect();
    expect(hello.RepoTags.sort()).toEqual([`${PREFIX}/hello:0.0.0-itest`, `${PREFIX}/hello:latest`]);
    const labels = hello.Config.Labels;
    expect(labels['org.opencontainers.image.title']).toBe(`${PREFIX}/hello`);
    expect(labels['org.opencontainers.image.version']).toBe('0.0.0-itest');
    expect(labels['org.opencontainers.image.revision']).toBe('itest-revision');
    expect(labels['org.opencontainers.image.source']).toBe('https://example.invalid/cosmo');
    expect(Date.parse(labels['org.opencontainers.image.created']!)).toBeGreaterThan(Date.now() - 3_600_000);
    expect(labels[INPUTS_HASH_LABEL]).toBe(results[1]!.hash);

    const container = await docker.createContainer({ Image: `${PREFIX}/hello:latest` });
    try {
      await container.start();
      await container.wait();
      const logs = (await container.logs({ stdout: true, stderr: true })).toString();
      expect(logs).toContain('hello from the fixture');
    } finally {
      await container.remove({ force: true });
    }
  });

  it('skips every image on a second build with nothing changed', async () => {
    const results = await buildImages(docker, options());
    expect(results.map((r) => r.status)).toEqual(['up-to-date', 'up-to-date']);
  });

  it('rebuilds only what a change touches, and everything with force', async () => {
    await writeFile(path.join(work, 'hello', 'greeting'), 'changed greeting\n');
    const changed = await buildImages(docker, options());
    expect(changed.map((r) => [r.name, r.status])).toEqual([
      ['base', 'up-to-date'],
      ['hello', 'built'],
    ]);
    const forced = await buildImages(docker, options({ names: ['hello'], force: true }));
    expect(forced.map((r) => r.status)).toEqual(['built', 'built']);
  });

  it('fails on a broken Dockerfile with the daemon message and the failing step', async () => {
    await writeFile(
      path.join(work, 'hello', 'Dockerfile'),
      'ARG BASE_IMAGE\nFROM $BASE_IMAGE\nRUN echo about to fail && exit 3\n',
    );
    const failure = await buildImages(docker, options({ names: ['hello'] })).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(BuildFailedError);
    expect((failure as BuildFailedError).step).toMatch(/^Step 3\/\d+ : RUN echo about to fail && exit 3/);
    expect((failure as BuildFailedError).daemonMessage).toMatch(/returned a non-zero code: 3/);
  });
});

describe('cosmo images', () => {
  it('exits 1 with the daemon message when a Dockerfile is broken', async () => {
    // A project of its own: the CLI finds the project from its working directory.
    const project = path.join(work, 'project');
    await mkdir(path.join(project, 'images/base'), { recursive: true });
    await writeFile(path.join(project, 'pnpm-workspace.yaml'), 'packages: []\n');
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ version: '0.0.0-itest-broken' }));
    await writeFile(
      path.join(project, 'images/base/Dockerfile'),
      'ARG BASE_IMAGE\nFROM $BASE_IMAGE\nRUN no-such-command --really\n',
    );
    const result = await cosmo(['images', 'build', 'base'], { cwd: project });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/\[base\] Step 3\/\d+ : RUN no-such-command --really/);
    expect(result.stderr).toMatch(
      /building base failed at Step 3\/\d+ : RUN no-such-command --really: .*returned a non-zero code: 127/,
    );
    const tagged = await docker.listImages({ filters: { reference: ['cosmo/base:0.0.0-itest-broken'] } });
    expect(tagged).toEqual([]);
  });

  it('exits 2 naming the socket when Docker cannot be reached', async () => {
    const result = await cosmo(['images', 'build'], { env: { DOCKER_HOST: 'unix:///nonexistent.sock' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('cannot reach the Docker Engine at unix:///nonexistent.sock');
    expect(result.stderr).toContain('DOCKER_HOST');
  });

  it('exits 2 for an unknown image, naming the known ones', async () => {
    const result = await cosmo(['images', 'build', 'no-such-image']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown image 'no-such-image'");
  });

  it('lists the catalogue with tags and states, as JSON too', async () => {
    const result = await cosmo(['images', 'list', '--json']);
    expect(result.code).toBe(0);
    const { images } = JSON.parse(result.stdout) as {
      images: { name: string; tag: string; state: string }[];
    };
    expect(images.map((image) => image.name)).toContain('base');
    for (const image of images) expect(['up-to-date', 'stale', 'missing']).toContain(image.state);
  });
});
