/** `cosmo init`: writes cosmo.yaml and secrets/ (0600 files); refuses to overwrite without --force. */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defaultConfigText, MODES } from '@cosmo/topology';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { certificateFiles, type Pem, readOperatorCa, writeCertificates } from '../certificates.ts';
import { UsageError } from '../errors.ts';
import { externalDbFromUrl, externalQueueFromUrl, missingProvidedFiles } from '../external.ts';
import { CONFIG_FILE, cosmoVersion, projectFromText } from '../project.ts';
import { existingSecrets, secretFiles, writeSecrets } from '../secrets.ts';
import { writeGenerated } from './generate.ts';

export interface InitOptions {
  dir: string;
  mode: string;
  force: boolean;
  /** The project's name (compose project, volume and label prefix); default cosmo. */
  name?: string;
  /** The published API port of the chosen mode; default 8080. */
  port?: number;
  /** URLs of an external database / queue (see external.ts): no members of it are run. */
  externalDb?: string;
  externalQueue?: string;
  /** images.registry: where Swarm nodes pull the images (cosmo deploy). */
  registry?: string;
  /** The distributed mode's number of managers. */
  managers?: number;
  /** publicNames: the names clients reach the API by. */
  publicNames?: string[];
  /** tls: off in cosmo.yaml. */
  insecureHttp?: boolean;
  /** The operator's CA (files), instead of one made here. */
  ca?: { cert: string; key: string };
}

/** Checks everything first, then writes: a refused init leaves nothing behind. */
export async function initProject(options: InitOptions): Promise<{
  configPath: string;
  secrets: string[];
  ca: string | undefined;
  composeFile: string;
  toSupply: string[];
}> {
  if (!(MODES as readonly string[]).includes(options.mode)) {
    throw new UsageError(`--mode ${options.mode} is not a mode (use one of ${MODES.join(', ')})`);
  }
  if (options.managers !== undefined && options.mode !== 'distributed') {
    throw new UsageError(
      `--managers is for the distributed mode (${options.mode === 'compact' ? 'the compact mode runs a manager on each of its 3 nodes' : 'the aio mode runs one manager'})`,
    );
  }
  const configPath = path.join(options.dir, CONFIG_FILE);
  const external = {
    ...(options.externalDb ? { db: externalDbFromUrl(options.externalDb) } : {}),
    ...(options.externalQueue ? { queue: externalQueueFromUrl(options.externalQueue) } : {}),
  };
  const text =
    defaultConfigText({
      mode: options.mode,
      credentials: 'files',
      ...(options.name !== undefined ? { name: JSON.stringify(options.name) } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.registry !== undefined ? { registry: options.registry } : {}),
      ...(options.managers !== undefined ? { managers: options.managers } : {}),
      ...(options.publicNames?.length ? { publicNames: options.publicNames } : {}),
      ...(options.insecureHttp ? { tls: false } : {}),
    }) +
    (Object.keys(external).length > 0
      ? `# Services used, not run: each password is a file you write (one line).\n${stringify({ external })}`
      : '');
  const project = projectFromText(text, configPath, await cosmoVersion());
  if (options.ca && !project.plan.tls) {
    throw new UsageError(
      '--ca-cert/--ca-key sign the certificates of TLS: they do not go with --insecure-http',
    );
  }
  let operatorCa: Pem | undefined;
  try {
    operatorCa = options.ca ? await readOperatorCa(options.ca) : undefined;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const files = secretFiles(project.plan, project.configDir);
  const present = [configPath, project.composeFile].filter((file) => existsSync(file));
  present.push(...existingSecrets([...files, ...certificateFiles(project.plan.tls, project.configDir)]));
  if (present.length > 0 && !options.force) {
    throw new UsageError(
      `${present.join(', ')} already exist(s): keep them, or run cosmo init --force to replace them`,
    );
  }
  await writeFile(configPath, text, { mode: 0o644 });
  const secrets = [
    ...(await writeSecrets(files)),
    ...(await writeCertificates(project.plan.tls, project.configDir, {
      project: project.plan.name,
      fresh: true,
      ...(operatorCa ? { ca: operatorCa } : {}),
    })),
  ];
  await writeGenerated(project, 'compose', project.composeFile);
  const ca = project.plan.tls ? path.resolve(project.configDir, project.plan.tls.ca.cert) : undefined;
  return {
    configPath,
    secrets,
    ca,
    composeFile: project.composeFile,
    toSupply: missingProvidedFiles(project),
  };
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('write cosmo.yaml and generated credentials in secrets/ (files readable by you only)')
    .option('--mode <mode>', `deployment mode: ${MODES.join(', ')}`, 'aio')
    .option('--dir <dir>', 'project folder', '.')
    .option('--name <name>', 'project name: compose project, volume and label prefix', 'cosmo')
    .option('--port <port>', "the API's published port", '8080')
    .option(
      '--external-db <url>',
      'use this PostgreSQL instead of running one (compact, distributed): postgresql://USER@HOST[:PORT]/DATABASE[?sslmode=verify-full&sslrootcert=CA.pem]',
    )
    .option(
      '--external-queue <url>',
      'use this RabbitMQ instead of running one (compact, distributed): amqp[s]://USER@HOST[:PORT][,HOST...][/VHOST][?cacertfile=CA.pem]',
    )
    .option('--managers <n>', 'distributed mode: managers behind the load balancer (default 3)')
    .option(
      '--public-name <name>',
      "a name or address clients reach the API by (repeatable): reported in /managers, which Cloudify's client records",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option(
      '--insecure-http',
      'serve the API over plain HTTP (tls: off), e.g. behind a TLS proxy of your own',
    )
    .option(
      '--ca-cert <file>',
      "your own CA's certificate (PEM), to sign the platform's certificates instead of a CA made here",
    )
    .option(
      '--ca-key <file>',
      "that CA's key (PEM, ECDSA P-256, no passphrase); copied into secrets/ with mode 0600",
    )
    .option('--registry <host:port>', 'the registry Swarm nodes pull the images from (for cosmo deploy)')
    .option('--force', 'replace an existing cosmo.yaml, compose.yaml and secrets/')
    .action(
      async (flags: {
        mode: string;
        dir: string;
        force?: boolean;
        name: string;
        port: string;
        externalDb?: string;
        externalQueue?: string;
        registry?: string;
        managers?: string;
        publicName?: string[];
        insecureHttp?: boolean;
        caCert?: string;
        caKey?: string;
      }) => {
        if (Boolean(flags.caCert) !== Boolean(flags.caKey)) {
          throw new UsageError(
            '--ca-cert and --ca-key go together: give both (your CA) or neither (a CA made here)',
          );
        }
        const port = Number(flags.port);
        if (!/^\d+$/.test(flags.port) || port < 1 || port > 65535) {
          throw new UsageError(`--port ${flags.port} is not a port (1-65535)`);
        }
        const { configPath, secrets, ca, composeFile, toSupply } = await initProject({
          dir: flags.dir,
          mode: flags.mode,
          force: Boolean(flags.force),
          name: flags.name,
          port,
          ...(flags.externalDb ? { externalDb: flags.externalDb } : {}),
          ...(flags.externalQueue ? { externalQueue: flags.externalQueue } : {}),
          ...(flags.registry ? { registry: flags.registry } : {}),
          ...(flags.managers !== undefined ? { managers: managersFlag(flags.managers) } : {}),
          ...(flags.publicName ? { publicNames: flags.publicName } : {}),
          ...(flags.insecureHttp ? { insecureHttp: true } : {}),
          ...(flags.caCert && flags.caKey ? { ca: { cert: flags.caCert, key: flags.caKey } } : {}),
        });
        const inDir = flags.dir === '.' ? '' : `, in ${flags.dir}`;
        process.stdout.write(
          [
            `wrote ${configPath}`,
            `wrote ${secrets.length} secret files in ${path.dirname(secrets[0]!)} (mode 0600)`,
            ...(ca
              ? [
                  `the API serves HTTPS; its certificate is signed by the CA in ${ca} (give that file to clients)`,
                ]
              : []),
            `wrote ${composeFile}`,
            ...toSupply.map(
              (file) => `write the external service's password (or CA) in ${file} (one line, mode 0600)`,
            ),
            `next${inDir}: \`cosmo up\` (builds the images, starts, waits until healthy),`,
            '      or, with the images built (`cosmo images build`), `docker compose up -d`',
            ...(flags.mode === 'aio'
              ? []
              : [
                  flags.registry
                    ? '      or onto a Docker Swarm: `cosmo deploy -H tcp://MANAGER:2376 --label-nodes` (TLS: DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH; or ssh://USER@MANAGER)'
                    : '      or onto a Docker Swarm: init with --registry HOST:PORT, then `cosmo deploy -H tcp://MANAGER:2376 --label-nodes` (TLS: DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH; or ssh://USER@MANAGER)',
                ]),
            '',
          ].join('\n'),
        );
      },
    );
}

/** `--managers N`: a whole number; the schema then says what range it may be in. */
function managersFlag(value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`--managers ${value} is not a number of managers`);
  return Number(value);
}
