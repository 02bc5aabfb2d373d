/**
 * The build graph: which images a request needs and in what order. Images in one level do not
 * depend on each other and may build concurrently; every level depends only on earlier ones.
 */
import { type Catalogue, dependencies, findImage, type ImageSpec, platformImages } from './catalogue.ts';

/** The requested images (none: the platform's, not the test fixtures) plus every image they are built FROM. */
export function closure(catalogue: Catalogue, names: readonly string[]): ImageSpec[] {
  const wanted = new Map<string, ImageSpec>();
  const visit = (name: string, path: string[]): void => {
    if (path.includes(name)) {
      throw new Error(`image build cycle: ${[...path, name].join(' -> ')}`);
    }
    if (wanted.has(name)) return;
    const spec = findImage(catalogue, name);
    for (const dependency of dependencies(spec)) visit(dependency, [...path, name]);
    wanted.set(name, spec);
  };
  const requested = names.length > 0 ? names : platformImages(catalogue);
  for (const name of requested) visit(name, []);
  return [...wanted.values()];
}

/** Levels of the build: level 0 has the images built from the root filesystem; each image comes after all it needs. */
export function buildLevels(catalogue: Catalogue, names: readonly string[]): ImageSpec[][] {
  const specs = closure(catalogue, names);
  const depth = new Map<string, number>();
  const depthOf = (spec: ImageSpec): number => {
    const known = depth.get(spec.name);
    if (known !== undefined) return known;
    const d = Math.max(-1, ...dependencies(spec).map((name) => depthOf(findImage(catalogue, name)))) + 1;
    depth.set(spec.name, d);
    return d;
  };
  const levels: ImageSpec[][] = [];
  for (const spec of specs) {
    const d = depthOf(spec);
    levels[d] ??= [];
    levels[d].push(spec);
  }
  return levels.map((level) => level.sort((a, b) => a.name.localeCompare(b.name)));
}
