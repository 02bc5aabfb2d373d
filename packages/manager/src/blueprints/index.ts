/** Blueprints: parsing and validating the YAML, and reading archives. */
export * from './archive.ts';
export * from './blueprint.ts';
export * from './functions.ts';
export * from './operations.ts';
