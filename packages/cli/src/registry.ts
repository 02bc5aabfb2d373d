/**
 * Images reaching other hosts: each image tagged for a registry and pushed there, and the digest the
 * registry gave it, so a stack names exactly the image that was built (`name@sha256:…`): every node
 * runs the same bytes, and Swarm has nothing to resolve again.
 */
import type { Plan, ServicePlan } from '@cosmo/topology';
import type Docker from 'dockerode';
import { UsageError } from './errors.ts';

export interface Pushed {
  name: string;
  /** `registry/prefix/name:tag`, as pushed. */
  ref: string;
  digest: string;
}

const REGISTRY = /^[a-z0-9.-]+(:\d{1,5})?$/i;

export function checkRegistry(registry: string, flag: string): void {
  if (!REGISTRY.test(registry)) {
    throw new UsageError(
      `${flag} ${registry}: not a registry such as registry.example.com:5000 or 127.0.0.1:5000`,
    );
  }
}

/** Tags a local image (`cosmo/node:0.1.0`) as `registry/prefix/name:tag`, pushes it, resolves to its digest. */
export async function pushImage(
  docker: Docker,
  image: { name: string; local: string; prefix: string; tag: string },
  registry: string,
  onLine?: (line: string) => void,
): Promise<Pushed> {
  const repo = `${registry}/${image.prefix}/${image.name}`;
  try {
    await docker.getImage(image.local).tag({ repo, tag: image.tag });
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) {
      throw new UsageError(
        `${image.local} is not in the local engine: build it first (cosmo images build ${image.name})`,
      );
    }
    throw error;
  }
  const ref = `${repo}:${image.tag}`;
  const stream = await docker.getImage(ref).push({ tag: image.tag });
  let digest = '';
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null) => (error ? reject(error) : resolve()),
      (event: { status?: string; error?: string; aux?: { Digest?: string } }) => {
        if (event.error) reject(new Error(`pushing ${ref}: ${event.error}`));
        if (event.aux?.Digest) digest = event.aux.Digest;
        if (event.status && onLine && !/^(Preparing|Waiting|Pushing)$/.test(event.status))
          onLine(event.status);
      },
    );
  });
  if (!digest) throw new Error(`pushing ${ref}: the registry gave no digest`);
  return { name: image.name, ref, digest };
}

/**
 * The plan with each service's image named by the digest it was pushed with, under the registry the
 * nodes pull from (which may be another name for the same registry than the one pushed through).
 */
export function pinImages(plan: Plan, registry: string, prefix: string, pushed: Pushed[]): Plan {
  const digestOf = new Map(pushed.map((image) => [image.name, image.digest]));
  const pin = (service: ServicePlan): ServicePlan => {
    const digest = digestOf.get(service.imageName);
    if (!digest) throw new Error(`no digest for ${service.imageName}: push it first (cosmo images push)`);
    return { ...service, image: `${registry}/${prefix}/${service.imageName}@${digest}`, localImage: false };
  };
  return { ...plan, services: plan.services.map(pin) };
}

/**
 * The digests the local engine got when it pushed the plan's images to `registry` (its RepoDigests),
 * for a stack written without pushing again; refuses, naming the command, when one was not pushed.
 */
export async function pushedDigests(
  docker: Docker,
  plan: Plan,
  registry: string,
  prefix: string,
  tag: string,
): Promise<Pushed[]> {
  const names = [...new Set(plan.services.map((service) => service.imageName))];
  const missing: string[] = [];
  const pushed: Pushed[] = [];
  for (const name of names) {
    const ref = `${registry}/${prefix}/${name}:${tag}`;
    const info = await docker
      .getImage(ref)
      .inspect()
      .catch(() => undefined);
    const repoDigest = info?.RepoDigests?.find((d) => d.startsWith(`${registry}/${prefix}/${name}@`));
    if (!repoDigest) missing.push(name);
    else pushed.push({ name, ref, digest: repoDigest.slice(repoDigest.indexOf('@') + 1) });
  }
  if (missing.length > 0) {
    throw new UsageError(
      `${missing.join(', ')} not pushed to ${registry} from this engine: the stack names images by digest; run \`cosmo images push ${missing.join(' ')}\` first`,
    );
  }
  return pushed;
}
