/** @cosmo/compose: plan -> compose file or Swarm stack file, and their validation. */
export { composeDocument, type EmitOptions, renderCompose, serviceNames } from './emit.ts';
export { composeSchemaErrors } from './schema.ts';
export { TARGET_KEYS, type Target } from './targets.ts';
