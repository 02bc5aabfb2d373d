/**
 * @cosmo/manager: the manager service, run by `cosmo-manager rest|worker|all` (bin.ts, bundled into
 * cosmo/manager). What it reads from its environment is @cosmo/topology/manager-env's contract.
 */
export { ConfigError, loadConfig, type ManagerConfig } from './config.ts';
export { main } from './main.ts';
