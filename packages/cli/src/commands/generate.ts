/** `cosmo generate`: cosmo.yaml -> a compose file or a Swarm stack file. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { composeDocument, composeSchemaErrors, renderCompose, type Target } from '@cosmo/compose';
import { connectDocker } from '@cosmo/images';
import { defaultConfigText, MODES } from '@cosmo/topology';
import type { Command } from 'commander';
import { writeCertificates } from '../certificates.ts';
import { UsageError } from '../errors.ts';
import { CONFIG_FILE, cosmoVersion, loadProject, type Project, projectFromText } from '../project.ts';
import { pinImages, pushedDigests } from '../registry.ts';
import { existingSecrets, secretFiles, writeSecrets } from '../secrets.ts';

const TARGETS: readonly Target[] = ['compose', 'swarm'];
export const OUTPUT_NAMES: Record<Target, string> = { compose: 'compose.yaml', swarm: 'stack.yaml' };

/** Renders and validates; writes only a file that passed the schema. */
export async function writeGenerated(project: Project, target: Target, file: string): Promise<string> {
  const options = { target, configDir: project.configDir, outDir: path.dirname(path.resolve(file)) };
  const errors = composeSchemaErrors(composeDocument(project.plan, options));
  if (errors.length > 0)
    throw new Error(`the generated ${target} file does not validate:\n  ${errors.join('\n  ')}`);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, renderCompose(project.plan, options));
  return file;
}

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('generate the compose file (or Swarm stack file) for cosmo.yaml')
    .option('-t, --target <target>', `what to generate: ${TARGETS.join(', ')}`, 'compose')
    .option('-o, --out <dir>', 'folder to write into (default: the folder of cosmo.yaml)')
    .option('-c, --config <file>', 'the configuration', CONFIG_FILE)
    .option('--defaults', 'use the default configuration instead of a file (for the files in compose/)')
    .option('--mode <mode>', `with --defaults: the mode (${MODES.join(', ')})`, 'aio')
    .action(
      async (flags: { target: string; out?: string; config: string; defaults?: boolean; mode: string }) => {
        if (!(TARGETS as readonly string[]).includes(flags.target)) {
          throw new UsageError(`--target ${flags.target} is not a target (use compose or swarm)`);
        }
        if (!(MODES as readonly string[]).includes(flags.mode)) {
          throw new UsageError(`--mode ${flags.mode} is not a mode (use one of ${MODES.join(', ')})`);
        }
        const target = flags.target as Target;
        const project = flags.defaults
          ? projectFromText(
              defaultsFor(flags.mode),
              path.resolve(flags.out ?? '.', CONFIG_FILE),
              await cosmoVersion(),
            )
          : await loadProject(flags.config);
        const dir = flags.out ?? path.dirname(project.composeFile);
        // A stack for a registry names each image by the digest it was pushed with.
        const { registry, prefix, tag } = project.config.images;
        const pinned =
          target === 'swarm' && registry
            ? {
                ...project,
                plan: pinImages(
                  project.plan,
                  registry,
                  prefix,
                  await pushedDigests(
                    await connectDocker(),
                    project.plan,
                    registry,
                    prefix,
                    tag ?? (await cosmoVersion()),
                  ),
                ),
              }
            : project;
        // Certificates for what the plan now has and the folder lacks (a member added), from its CA,
        // and the random secrets a newer version added (the secrets key): never one that exists.
        const issued = flags.defaults
          ? []
          : await writeCertificates(project.plan.tls, project.configDir, {
              project: project.plan.name,
              fresh: false,
            });
        const generated = flags.defaults ? [] : await writeSecrets(missingSecrets(project));
        const file = await writeGenerated(pinned, target, path.join(dir, OUTPUT_NAMES[target]));
        for (const written of issued) process.stdout.write(`issued ${written}\n`);
        for (const written of generated) process.stdout.write(`generated ${written} (mode 0600)\n`);
        process.stdout.write(`wrote ${file}\n`);
      },
    );
}

/** The plan's generated secrets that its folder lacks. */
function missingSecrets(project: Project): string[] {
  const files = secretFiles(project.plan, project.configDir);
  const present = new Set(existingSecrets(files));
  return files.filter((file) => !present.has(file));
}

/**
 * The configuration behind the files in compose/: an empty cosmo.yaml for the All-in-One (its
 * container generates its credentials), what `cosmo init --mode <mode>` writes for the others.
 */
export function defaultsFor(mode: string): string {
  return mode === 'aio' ? '' : defaultConfigText({ mode, credentials: 'files' });
}
