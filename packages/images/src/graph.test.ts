import { describe, expect, it } from 'vitest';
import type { Catalogue, ImageSpec } from './catalogue.ts';
import { defaultCatalogue, findImage } from './catalogue.ts';
import { buildLevels, closure } from './graph.ts';

const image = (name: string, parent?: string): ImageSpec => ({
  name,
  context: `images/${name}`,
  dockerfile: 'Dockerfile',
  parent: parent ? { kind: 'image', name: parent } : { kind: 'rootfs' },
  buildArgs: {},
  description: name,
});

const catalogue: Catalogue = {
  prefix: 'test',
  images: [image('aio', 'manager'), image('manager', 'base'), image('postgres', 'base'), image('base')],
};

describe('build graph', () => {
  it('puts the base first and dependents after, independent images in one level', () => {
    const levels = buildLevels(catalogue, []).map((level) => level.map((spec) => spec.name));
    expect(levels).toEqual([['base'], ['manager', 'postgres'], ['aio']]);
  });

  it('brings in the parents of a requested image and nothing else', () => {
    expect(closure(catalogue, ['aio']).map((spec) => spec.name)).toEqual(['base', 'manager', 'aio']);
    expect(buildLevels(catalogue, ['postgres']).map((level) => level.map((spec) => spec.name))).toEqual([
      ['base'],
      ['postgres'],
    ]);
  });

  it('builds an image after the images it copies from', () => {
    const withUses: Catalogue = {
      prefix: 'test',
      images: [
        { ...image('aio', 'postgres'), uses: ['manager'] },
        image('postgres', 'base'),
        image('manager', 'base'),
        image('base'),
      ],
    };
    expect(buildLevels(withUses, ['aio']).map((level) => level.map((spec) => spec.name))).toEqual([
      ['base'],
      ['manager', 'postgres'],
      ['aio'],
    ]);
  });

  it('names an unknown image and the ones it knows', () => {
    expect(() => closure(catalogue, ['nope'])).toThrow(
      "unknown image 'nope': the catalogue has aio, manager, postgres, base",
    );
  });

  it('reports a cycle with its path', () => {
    const cyclic: Catalogue = { prefix: 'test', images: [image('a', 'b'), image('b', 'a')] };
    expect(() => closure(cyclic, ['a'])).toThrow('image build cycle: a -> b -> a');
  });

  it('has a default catalogue whose every parent is in it', () => {
    for (const spec of defaultCatalogue.images) {
      if (spec.parent.kind === 'image')
        expect(findImage(defaultCatalogue, spec.parent.name).name).toBe(spec.parent.name);
    }
    expect(buildLevels(defaultCatalogue, [])[0]?.map((spec) => spec.name)).toEqual(['base']);
  });
});
