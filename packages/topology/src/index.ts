/** @cosmo/topology: cosmo.yaml's schema and validation, and config -> plan. Pure: no I/O. */
export { type CosmoConfig, configSchema, MODES, type Mode } from './config.ts';
export {
  IMAGE_PRIVILEGES,
  type ImagePrivileges,
  INSTANCE,
  type InFolderOrVolume,
  imageRef,
  type Plan,
  SECRET_FILES,
  type SecretKey,
  type SecretPlan,
  type ServicePlan,
} from './plan.ts';
export { planFor } from './planner.ts';
export type { CertificatePlan, TlsPlan } from './tls.ts';
export { ConfigError, defaultConfigText, parseConfig } from './validate.ts';
