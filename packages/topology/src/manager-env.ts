/**
 * The contract between the planner and the manager: every environment variable cosmo/manager reads.
 * The planners write a `ManagerEnv` (a misspelt name does not compile) and the manager's config reads
 * only names from this list, so the two sides cannot drift apart. No imports: the manager's bundle
 * takes this file alone (`@cosmo/topology/manager-env`).
 */
export const MANAGER_VARIABLES = [
  'COSMO_NODE_NAME',
  'COSMO_PRIVATE_IP',
  'COSMO_PUBLIC_IP',
  'COSMO_HTTP_HOST',
  'COSMO_HTTP_PORT',
  'COSMO_HTTP_TLS_CERT_FILE',
  'COSMO_HTTP_TLS_KEY_FILE',
  'COSMO_DB_HOST',
  'COSMO_DB_PORT',
  'COSMO_DB_NAME',
  'COSMO_DB_USER',
  'COSMO_DB_PASSWORD_FILE',
  'COSMO_DB_PATRONI_URLS',
  'COSMO_DB_PATRONI_CA_FILE',
  'COSMO_DB_PATRONI_CERT_FILE',
  'COSMO_DB_PATRONI_KEY_FILE',
  'COSMO_DB_SSLMODE',
  'COSMO_DB_CA_FILE',
  'COSMO_DB_EXTERNAL',
  'COSMO_MQ_HOSTS',
  'COSMO_MQ_USER',
  'COSMO_MQ_PASSWORD_FILE',
  'COSMO_MQ_VHOST',
  'COSMO_MQ_TLS',
  'COSMO_MQ_CA_FILE',
  'COSMO_MQ_EXTERNAL',
  'COSMO_MQ_QUEUE_TYPE',
  'COSMO_ADMIN_USERNAME',
  'COSMO_ADMIN_PASSWORD_FILE',
  'COSMO_SECRETS_KEY_FILE',
  'COSMO_LOCKOUT_ATTEMPTS',
  'COSMO_LOCKOUT_SECONDS',
  'COSMO_TRUST_PROXY',
  'COSMO_TOKEN_SECONDS',
  'COSMO_TOKEN_MAX_SECONDS',
  'COSMO_HEARTBEAT_SECONDS',
  'COSMO_HEARTBEAT_STALE_SECONDS',
  'COSMO_MANAGER_FORGET_SECONDS',
  'COSMO_MAX_UPLOAD_BYTES',
  'COSMO_STEP_DELAY_MS',
  'COSMO_OPERATIONS_DIR',
  'COSMO_OPERATIONS_UID_BASE',
  'COSMO_OPERATIONS_EGRESS',
  'COSMO_OPERATIONS_PATH',
  'COSMO_OPERATION_TIMEOUT_SECONDS',
  'COSMO_DRAIN_SECONDS',
] as const;

export type ManagerVariable = (typeof MANAGER_VARIABLES)[number];
/** The variables that name a file holding a secret (never the secret itself). */
export type ManagerSecretVariable = Extract<
  ManagerVariable,
  `${string}_PASSWORD_FILE` | 'COSMO_SECRETS_KEY_FILE'
>;
/** What a planner gives a manager. */
export type ManagerEnv = Partial<Record<ManagerVariable, string>>;

/** libpq's sslmode values the manager takes for its database (and cosmo.yaml for an external one). */
export const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/**
 * Whether the scripts' uids are shut out of the platform's back ends (set by the image's root
 * entrypoint, cosmo-script-egress, never by a planner): `open` when it could not set the rules.
 */
export const EGRESS_STATES = ['confined', 'open'] as const;
export type EgressState = (typeof EGRESS_STATES)[number];

/** The executions queue's type: replicated on a cluster of brokers, or classic on one. */
export const QUEUE_TYPES = ['quorum', 'classic'] as const;
export type QueueType = (typeof QUEUE_TYPES)[number];
