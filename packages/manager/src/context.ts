/** What every route needs, built once at start and passed down (no globals). */
import type { Maintenance } from './api/maintenance.ts';
import type { TrustedProxies } from './api/trusted-proxies.ts';
import type { Authenticator } from './auth/auth.ts';
import type { BrokerClient } from './broker/client.ts';
import type { ManagerConfig } from './config.ts';
import type { HealthMonitor } from './health/health.ts';
import type { Logger } from './log.ts';
import type { Secrets } from './secrets/store.ts';
import type { Database } from './storage/db.ts';

export interface VersionInfo {
  edition: string;
  version: string;
  build: string | null;
  date: string | null;
  commit: string | null;
  distribution: string;
  distro_release: string;
}

export interface AppContext {
  config: ManagerConfig;
  db: Database;
  broker: BrokerClient;
  health: HealthMonitor;
  auth: Authenticator;
  maintenance: Maintenance;
  secrets: Secrets;
  /** Whose X-Forwarded-For is believed: the load balancers'. */
  proxies: TrustedProxies;
  version: VersionInfo;
  log: Logger;
}
