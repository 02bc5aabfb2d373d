/**
 * Containers the tests start by hand run with the privileges the platform's compose and stack files
 * give the same image (IMAGE_PRIVILEGES): every capability dropped but the entrypoint's, and no new
 * privileges. So a test sees what a deployment runs, and an image that needs more fails here first.
 */
import { IMAGE_PRIVILEGES } from '@cosmo/topology';
import type { GenericContainer } from 'testcontainers';

export function asPlanned<C extends GenericContainer>(container: C, image: keyof typeof IMAGE_PRIVILEGES): C {
  const privileges = IMAGE_PRIVILEGES[image];
  if (!privileges) throw new Error(`no privileges are planned for the image ${image}`);
  return container
    .withDroppedCapabilities('ALL')
    .withAddedCapabilities(...privileges.capabilities)
    .withSecurityOpt('no-new-privileges:true');
}
