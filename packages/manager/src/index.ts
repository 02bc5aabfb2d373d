/** @cosmo/manager: the manager service (REST API, worker, health) and its pure parts for tests. */
export { Authenticator, type AuthStore, TOKEN_PATTERN } from './auth.ts';
export { installOrder, parseBlueprint, resolveInputs } from './blueprint.ts';
export { ConfigError, loadConfig, type ManagerConfig } from './config.ts';
export { ApiError, errorBody } from './errors.ts';
export { main } from './main.ts';
export { hashPassword, verifyPassword } from './passwords.ts';
export { quorum, serviceState, worst } from './quorum.ts';
export { API_PREFIX, createServer } from './server.ts';
export { workflowSteps } from './workflow.ts';
