/**
 * cosmo.yaml: what an operator writes. Every key has a default, so an empty file is a valid
 * All-in-One; validation names the path, the bad value and the fix.
 */
import { z } from 'zod';
import { SSL_MODES } from './manager-env.ts';

export const MODES = ['aio', 'compact', 'distributed'] as const;
export type Mode = (typeof MODES)[number];

const port = z
  .number({ error: (issue) => `${JSON.stringify(issue.input)} is not a port (1-65535)` })
  .int({ error: (issue) => `${JSON.stringify(issue.input)} is not a port (1-65535)` })
  .min(1, { error: (issue) => `${JSON.stringify(issue.input)} is not a port (1-65535)` })
  .max(65535, { error: (issue) => `${JSON.stringify(issue.input)} is not a port (1-65535)` });

const name = (what: string) =>
  z
    .string({ error: (issue) => `${JSON.stringify(issue.input)} is not a ${what} (a string)` })
    .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, {
      error: (issue) =>
        `${JSON.stringify(issue.input)} is not a valid ${what}: use lower-case letters, digits, '-' and '_'`,
    });

const memory = z
  .string({ error: (issue) => `${JSON.stringify(issue.input)} is not a memory size such as 512m or 2g` })
  .regex(/^[1-9][0-9]*[kmg]$/i, {
    error: (issue) => `${JSON.stringify(issue.input)} is not a memory size such as 512m or 2g`,
  });

const cpus = z
  .number({ error: (issue) => `${JSON.stringify(issue.input)} is not a number of CPUs such as 1.5` })
  .positive({ error: (issue) => `${JSON.stringify(issue.input)} is not a number of CPUs above 0` })
  .max(1024, { error: (issue) => `${JSON.stringify(issue.input)} is more CPUs than any host has` });

const resources = z
  .strictObject({
    cpus: cpus.optional(),
    memory: memory.optional(),
  })
  .prefault({});

const ipv4 = z
  .string({ error: (issue) => `${JSON.stringify(issue.input)} is not an IP address to bind` })
  .regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, {
    error: (issue) => `${JSON.stringify(issue.input)} is not an IPv4 address such as 127.0.0.1 or 0.0.0.0`,
  });

const hostName = (what: string) =>
  z
    .string({ error: (issue) => `${JSON.stringify(issue.input)} is not a ${what} (a string)` })
    .regex(/^[A-Za-z0-9.-]+$/, {
      error: (issue) => `${JSON.stringify(issue.input)} is not a ${what}: a host name or IP address`,
    });

const filePath = (what: string) =>
  z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? `missing: the ${what} path (relative to cosmo.yaml)`
          : `${JSON.stringify(issue.input)} is not a ${what} path (a string)`,
    })
    .min(1, { error: `the ${what} path is empty` });

/** A count of cluster members: Raft-style stores (etcd, Patroni, quorum queues) need an odd number. */
const oddMembers = z
  .number({ error: (issue) => `${JSON.stringify(issue.input)} is not a number of nodes` })
  .int({ error: (issue) => `${JSON.stringify(issue.input)} must be odd and >= 3` })
  .min(3, { error: (issue) => `${JSON.stringify(issue.input)} must be odd and >= 3` })
  .max(9, {
    error: (issue) => `${JSON.stringify(issue.input)} is more members than a quorum needs (at most 9)`,
  })
  .refine((n) => n % 2 === 1, { error: (issue) => `${JSON.stringify(issue.input)} must be odd and >= 3` });

export const configSchema = z.strictObject({
  /** The format of this file. */
  version: z
    .literal(1, {
      error: (issue) => `${JSON.stringify(issue.input)} is not a supported config version (use 1)`,
    })
    .prefault(1),
  /** Compose project and stack name; prefixes containers, networks and volumes. */
  name: name('project name').default('cosmo'),
  mode: z
    .enum(MODES, {
      error: (issue) => `${JSON.stringify(issue.input)} is not a mode (use one of ${MODES.join(', ')})`,
    })
    .default('aio'),
  images: z
    .strictObject({
      /** Registry host (and port) the images are pushed to; empty: local images only. */
      registry: z
        .string()
        .regex(/^$|^[a-z0-9.-]+(:\d{1,5})?(\/[a-z0-9._-]+)*$/, {
          error: (issue) =>
            `${JSON.stringify(issue.input)} is not a registry such as registry.example.com:5000`,
        })
        .default(''),
      prefix: name('image prefix').default('cosmo'),
      /** Image tag; default: the version of this Cosmo. */
      tag: z
        .string()
        .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, {
          error: (issue) => `${JSON.stringify(issue.input)} is not an image tag`,
        })
        .optional(),
    })
    .prefault({}),
  credentials: z
    .strictObject({
      /** generate: the container creates them in its volume at first start; files: read from `dir`. */
      source: z
        .enum(['generate', 'files'], {
          error: (issue) =>
            `${JSON.stringify(issue.input)} is not a credentials source (use generate or files)`,
        })
        .default('generate'),
      /** Folder of the secret files, relative to cosmo.yaml. */
      dir: z.string().min(1).default('secrets'),
    })
    .prefault({}),
  /**
   * The names or addresses clients reach the API by (the host of the All-in-One or of the load
   * balancers). The first is each manager's `public_ip` in /managers, which Cloudify's client records
   * as the profile's addresses; without one, the API's own access address (localhost when bound to
   * every address), never a container's address that no client outside can reach.
   */
  publicNames: z.array(hostName('public name')).default([]),
  /**
   * HTTPS on the API, with certificates from the platform's CA (and between the load balancers and
   * the managers). `off` serves plain HTTP: for a TLS proxy of the operator's in front, or a comparison.
   */
  tls: z
    .union([z.boolean(), z.enum(['on', 'off'])], {
      error: (issue) => `${JSON.stringify(issue.input)} is not on or off`,
    })
    .default('on')
    .transform((value) => value === true || value === 'on'),
  modes: z
    .strictObject({
      aio: z
        .strictObject({
          port: port.default(8080),
          /** Host address the port is published on; 0.0.0.0 for every interface. */
          bind: ipv4.default('0.0.0.0'),
          resources,
        })
        .prefault({}),
      compact: z
        .strictObject({
          /** The load balancer's published port. */
          port: port.default(8080),
          bind: ipv4.default('0.0.0.0'),
        })
        .prefault({}),
      distributed: z
        .strictObject({
          /** The load balancer's published port. */
          port: port.default(8080),
          bind: ipv4.default('0.0.0.0'),
          /** Managers behind the load balancer (stateless, active-active). */
          managers: z
            .number({ error: (issue) => `${JSON.stringify(issue.input)} is not a number of managers` })
            .int({ error: (issue) => `${JSON.stringify(issue.input)} is not a whole number of managers` })
            .min(1, { error: (issue) => `${JSON.stringify(issue.input)} must be >= 1` })
            .max(16, {
              error: (issue) =>
                `${JSON.stringify(issue.input)} is more than the 16 managers the load balancer follows`,
            })
            .default(3),
          /** Database nodes: PostgreSQL + Patroni + etcd. */
          db: oddMembers.default(3),
          /** Queue nodes: RabbitMQ cluster members. */
          queue: oddMembers.default(3),
        })
        .prefault({}),
    })
    .prefault({}),
  /**
   * Services the platform uses but does not run (a managed PostgreSQL, a hosted RabbitMQ): the
   * cluster then emits no database (or queue) members, and its managers connect to these.
   */
  external: z
    .strictObject({
      db: z
        .strictObject({
          host: hostName('database host'),
          port: port.default(5432),
          database: z.string().min(1).default('cosmo'),
          user: z.string().min(1).default('cosmo'),
          /** The user's password, one line, relative to cosmo.yaml. */
          password_file: filePath('password file'),
          sslmode: z
            .enum(SSL_MODES, {
              error: (issue) =>
                `${JSON.stringify(issue.input)} is not an sslmode (use one of ${SSL_MODES.join(', ')})`,
            })
            .default('verify-full'),
          /** The CA certificate (PEM) the server's certificate is checked against (verify-ca, verify-full). */
          ca_file: filePath('CA certificate file').optional(),
        })
        .optional(),
      queue: z
        .strictObject({
          hosts: z
            .array(
              z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, {
                error: (issue) => `${JSON.stringify(issue.input)} is not host or host:port`,
              }),
            )
            .min(1, { error: 'list at least one host (host or host:port)' }),
          user: z.string().min(1).default('cosmo'),
          password_file: filePath('password file'),
          vhost: z.string().min(1).default('/'),
          /** AMQPS, the server's certificate verified (against ca_file, or the public CAs). */
          tls: z
            .boolean({ error: (issue) => `${JSON.stringify(issue.input)} is not true or false` })
            .default(false),
          ca_file: filePath('CA certificate file').optional(),
        })
        .optional(),
    })
    .optional(),
});

export type CosmoConfig = z.output<typeof configSchema>;
