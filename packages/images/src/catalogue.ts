/**
 * The image catalogue: every image Cosmo builds, the folder under `images/` that holds its recipe,
 * what it is built FROM and its build args. Data only; the graph and the builder read it.
 */

/** Where an image's FROM comes from: another image of the catalogue, or the bootstrapped root filesystem. */
export type Parent = { kind: 'image'; name: string } | { kind: 'rootfs' };

export interface ImageSpec {
  /** Short name: the image is tagged `<prefix>/<name>:<version>` and `:latest`. */
  name: string;
  /** Build context, relative to the repository root. */
  context: string;
  /** Dockerfile path inside the context. */
  dockerfile: string;
  parent: Parent;
  /** Build args besides the parent's reference, which the builder passes as `BASE_IMAGE`. */
  buildArgs: Record<string, string>;
  description: string;
  /** A Node script (relative to the repository root) that generates files into the context first. */
  prepare?: string;
  /**
   * Other catalogue images whose files this one copies (`COPY --from`): built first, passed as the
   * build arg `<NAME>_IMAGE`, and part of this image's inputs hash.
   */
  uses?: string[];
  /**
   * A test fixture, not part of the platform: built and pushed only when named (`cosmo images build
   * swarm-host`), never by a plain `cosmo images build` or `push`. Says why it must not run in production.
   */
  testFixture?: string;
}

/** The images a build or push without names means: the platform's, not the test fixtures. */
export function platformImages(catalogue: Catalogue): string[] {
  return catalogue.images.filter((image) => !image.testFixture).map((image) => image.name);
}

/** Every catalogue image an image needs built before it: its parent and the images it copies from. */
export function dependencies(spec: ImageSpec): string[] {
  return [...(spec.parent.kind === 'image' ? [spec.parent.name] : []), ...(spec.uses ?? [])];
}

export interface Catalogue {
  /** Repository prefix of every tag, e.g. `cosmo` gives `cosmo/base`. */
  prefix: string;
  images: ImageSpec[];
}

export const DEFAULT_PREFIX = 'cosmo';

export const defaultCatalogue: Catalogue = {
  prefix: DEFAULT_PREFIX,
  images: [
    {
      name: 'base',
      context: 'images/base',
      dockerfile: 'Dockerfile',
      parent: { kind: 'rootfs' },
      buildArgs: {},
      description: 'Debian trixie, trimmed, with tini and CA certificates',
    },
    {
      name: 'postgres',
      context: 'images/postgres',
      dockerfile: 'Dockerfile',
      parent: { kind: 'image', name: 'base' },
      buildArgs: {},
      description: 'PostgreSQL 17, single node',
    },
    {
      name: 'rabbitmq',
      context: 'images/rabbitmq',
      dockerfile: 'Dockerfile',
      parent: { kind: 'image', name: 'base' },
      buildArgs: {},
      description: 'RabbitMQ 4.0, a single node or a cluster member (peers from RABBITMQ_CLUSTER_PEERS)',
    },
    {
      name: 'manager',
      context: 'images/manager',
      dockerfile: 'Dockerfile',
      parent: { kind: 'image', name: 'base' },
      buildArgs: {},
      description: 'The Cosmo manager: REST API and workflow worker on Node 24',
      prepare: 'packages/manager/bundle.ts',
    },
    {
      name: 'db',
      context: 'images/db',
      dockerfile: 'Dockerfile',
      parent: { kind: 'image', name: 'postgres' },
      buildArgs: {},
      description: 'A database node: PostgreSQL 17 under Patroni 4, with an etcd 3.5 member',
    },
    {
      name: 'lb',
      context: 'images/lb',
      dockerfile: 'Dockerfile',
      parent: { kind: 'image', name: 'base' },
      buildArgs: {},
      description: 'HAProxy 3.0 in front of the managers, finding them through Docker DNS',
    },
    {
      name: 'aio',
      context: 'images/aio',
      dockerfile: 'Dockerfile',
      parent: { kind: 'image', name: 'postgres' },
      buildArgs: {},
      description: 'Cosmo all-in-one: manager, PostgreSQL and RabbitMQ in one container',
      uses: ['manager', 'rabbitmq'],
    },
    {
      name: 'node',
      context: 'images/node',
      dockerfile: 'Dockerfile',
      parent: { kind: 'image', name: 'db' },
      buildArgs: {},
      description: 'A compact-cluster node: database member, queue member and manager in one container',
      uses: ['manager', 'rabbitmq', 'aio'],
    },
    {
      name: 'registry',
      context: 'images/registry',
      dockerfile: 'Dockerfile',
      parent: { kind: 'image', name: 'base' },
      buildArgs: {},
      description:
        "An image registry (Debian's docker-registry) the Swarm nodes pull from, for sites without one",
    },
    {
      name: 'swarm-host',
      context: 'images/swarm-host',
      dockerfile: 'Dockerfile',
      parent: { kind: 'image', name: 'base' },
      buildArgs: {},
      description: 'A Docker engine in a container: the hosts of the multi-host Swarm tests',
      testFixture:
        'privileged, with the Docker API on tcp (2376 over TLS when given a certificate, else plain 2375): root on its host for anyone who reaches it',
    },
  ],
};

export function findImage(catalogue: Catalogue, name: string): ImageSpec {
  const spec = catalogue.images.find((image) => image.name === name);
  if (!spec) {
    const known = catalogue.images.map((image) => image.name).join(', ');
    throw new Error(`unknown image '${name}': the catalogue has ${known}`);
  }
  return spec;
}

/** The repository of an image, without a tag: `cosmo/base`. */
export function repository(catalogue: Catalogue, name: string): string {
  return `${catalogue.prefix}/${name}`;
}
