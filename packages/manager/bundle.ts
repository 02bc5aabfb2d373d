/**
 * Prepares the manager image's build context: the manager bundled into one ESM file (production
 * dependencies inside) and the Node 24 binary that runs it. Run by the image builder before it
 * hashes images/manager; both outputs are deterministic, so an unchanged tree keeps its hash.
 */
import { chmod, copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

const here = import.meta.dirname;
// The one Node rule: the major in the root package.json's engines (scripts/env.sh reads the same).
const rootPackage = JSON.parse(await readFile(path.join(here, '../../package.json'), 'utf8')) as {
  version: string;
  engines: { node: string };
};
const NODE_MAJOR = Number(/\d+/.exec(rootPackage.engines.node)?.[0]);
const out = path.resolve(process.argv[2] ?? path.join(here, '../../images/manager/build'));

const major = Number(process.versions.node.split('.')[0]);
if (major !== NODE_MAJOR) {
  console.error(
    `the manager image carries the Node that builds it, and needs Node ${NODE_MAJOR}; this is ${process.version}`,
  );
  console.error('run through bin/cosmo (it uses the Node that scripts/setup installed)');
  process.exit(2);
}

await mkdir(out, { recursive: true });
const { version } = rootPackage;
// What both bundles share: one minified file for this Node, with its dependencies inside.
const common = {
  bundle: true,
  platform: 'node',
  target: `node${NODE_MAJOR}`,
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
} as const;

await build({
  ...common,
  entryPoints: [path.join(here, 'src/bin.ts')],
  outfile: path.join(out, 'manager.mjs'),
  format: 'esm',
  // pg's optional native binding is never installed.
  external: ['pg-native'],
  define: { COSMO_VERSION: JSON.stringify(version) },
  // Bundled CommonJS dependencies call require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __cosmoRequire } from 'node:module'; const require = __cosmoRequire(import.meta.url);",
  },
});

// ctx, the command operations' scripts call: on its own, started by the image's node. CommonJS: a
// file without an extension is loaded as CommonJS.
await build({
  ...common,
  entryPoints: [path.join(here, 'src/workflows/ctx-client.ts')],
  outfile: path.join(out, 'ctx'),
  format: 'cjs',
  banner: { js: '#!/usr/local/bin/node' },
});
await chmod(path.join(out, 'ctx'), 0o755);

const target = path.join(out, 'node');
const [source, existing] = await Promise.all([stat(process.execPath), stat(target).catch(() => undefined)]);
if (!existing || existing.size !== source.size || existing.mtimeMs < source.mtimeMs) {
  await copyFile(process.execPath, target);
}
