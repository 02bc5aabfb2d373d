/** @cosmo/manager: the manager service (REST API, worker, health) and its pure parts for tests. */
export { API_PREFIX, ApiError, createServer, errorBody } from './api/index.ts';
export { Authenticator, type AuthStore, hashPassword, TOKEN_PATTERN, verifyPassword } from './auth/index.ts';
export { installOrder, parseBlueprint, resolveInputs } from './blueprints/index.ts';
export { ConfigError, loadConfig, type ManagerConfig } from './config.ts';
export { quorum, serviceState, worst } from './health/index.ts';
export { main } from './main.ts';
export { workflowSteps } from './workflows/index.ts';
