/**
 * Reading cosmo.yaml: YAML errors with their line, schema errors as `path: what is wrong`, and the
 * rules across keys that a schema cannot say. All problems are reported at once.
 */
import { parse, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { type CosmoConfig, configSchema } from './config.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`${source} is not valid:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

function pathOf(path: readonly PropertyKey[]): string {
  return path
    .map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`))
    .join('')
    .replace(/^\./, '');
}

function describe(issue: z.core.$ZodIssue): string {
  const where = pathOf(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((key) => `${where ? `${where}.` : ''}${key}: unknown key (check its spelling and place)`)
      .join('\n  ');
  }
  return `${where || '(top level)'}: ${issue.message}`;
}

export function parseConfig(text: string, source = 'cosmo.yaml'): CosmoConfig {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    const line = error instanceof YAMLParseError && error.linePos ? ` (line ${error.linePos[0].line})` : '';
    throw new ConfigError(source, [`not valid YAML${line}: ${(error as Error).message.split('\n')[0]}`]);
  }
  if (document === null || document === undefined) document = {};
  if (typeof document !== 'object' || Array.isArray(document)) {
    throw new ConfigError(source, ['(top level): must be a mapping of keys such as mode, modes, images']);
  }
  // Said first, and even when the section has other problems: fixing those would not help.
  const raw = document as { mode?: unknown; external?: unknown };
  const externalInAio =
    (raw.mode === undefined || raw.mode === 'aio') && raw.external !== undefined && raw.external !== null
      ? [
          'external: the aio mode runs its own database and queue; remove external or use mode compact or distributed',
        ]
      : [];
  const result = configSchema.safeParse(document);
  if (!result.success) {
    throw new ConfigError(source, [
      ...externalInAio,
      ...result.error.issues
        .map(describe)
        .filter((problem) => !(externalInAio.length && problem.startsWith('external.'))),
    ]);
  }
  const config = result.data;
  const problems: string[] = [...externalInAio];
  const db = config.external?.db;
  if (db?.sslmode.startsWith('verify') && !db.ca_file) {
    problems.push(
      `external.db.ca_file: sslmode ${db.sslmode} checks the server's certificate against a CA: give the CA certificate's file (PEM), or use sslmode require`,
    );
  }
  if (db?.ca_file && !db.sslmode.startsWith('verify')) {
    problems.push(
      `external.db.ca_file: sslmode ${db.sslmode} does not check certificates; use sslmode verify-full (or verify-ca), or remove ca_file`,
    );
  }
  const queue = config.external?.queue;
  if (queue?.ca_file && !queue.tls) {
    problems.push('external.queue.ca_file: only used with tls: true; set tls: true or remove ca_file');
  }
  if (config.mode !== 'aio' && config.credentials.source !== 'files') {
    problems.push(
      `credentials.source: the ${config.mode} mode shares its credentials between nodes; use files (cosmo init --mode ${config.mode} writes them)`,
    );
  }
  if (problems.length > 0) throw new ConfigError(source, problems);
  return config;
}

/** The configuration `cosmo init` writes: every default spelled out, so it documents itself. */
export function defaultConfigText(
  options: {
    mode?: string;
    credentials?: 'generate' | 'files';
    name?: string;
    port?: number;
    registry?: string;
    managers?: number;
    publicNames?: string[];
    tls?: boolean;
  } = {},
): string {
  const mode = options.mode ?? 'aio';
  // The chosen mode's port (and only it) takes options.port; the others keep the default.
  const port = (of: string) => (of === mode && options.port !== undefined ? options.port : 8080);
  return `# Cosmo configuration. Every key is optional; these are the defaults.
version: 1
name: ${options.name ?? 'cosmo'}
mode: ${mode}
images:
  registry: ${JSON.stringify(options.registry ?? '')}        # empty: local images only (pull_policy: never); else where Swarm nodes pull them
  prefix: cosmo
publicNames: ${JSON.stringify(options.publicNames ?? [])}   # names clients reach the API by (e.g. [cosmo.example.com]); reported in /managers
tls: ${options.tls === false ? 'off' : 'on'}           # HTTPS on the API from the CA in secrets/ (ca.crt); off: plain HTTP
credentials:
  source: ${options.credentials ?? 'files'}      # files: read from dir; generate: created in the container's volume
  dir: secrets
modes:
  aio:
    port: ${port('aio')}
    bind: 0.0.0.0
    resources: {}     # e.g. {cpus: 2, memory: 2g}
  compact:
    port: ${port('compact')}        # the load balancer's published port (3 nodes, each running every service)
    bind: 0.0.0.0
  distributed:
    port: ${port('distributed')}        # the load balancer's published port
    bind: 0.0.0.0
    managers: ${options.managers ?? 3}       # managers behind the load balancer, >= 1
    db: 3             # database nodes (PostgreSQL + Patroni + etcd), odd, >= 3
    queue: 3          # queue nodes (RabbitMQ), odd, >= 3
`;
}
