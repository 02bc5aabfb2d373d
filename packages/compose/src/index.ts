/** @cosmo/compose: plan -> compose file or Swarm stack file, and their validation. */
export { composeDocument, type EmitOptions, renderCompose } from './emit.ts';
export { composeSchemaErrors } from './schema.ts';
export { TARGET_KEYS, type Target } from './targets.ts';
