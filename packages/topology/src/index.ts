/** @cosmo/topology: cosmo.yaml's schema and validation, and config -> plan. Pure: no I/O. */
export { type CosmoConfig, configSchema, MODES, type Mode } from './config.ts';
export { imageRef, type Plan, planFor, SECRET_FILES, type SecretPlan, type ServicePlan } from './plan.ts';
export { ConfigError, defaultConfigText, parseConfig } from './validate.ts';
