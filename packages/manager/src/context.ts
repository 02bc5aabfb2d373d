/** What every route needs, built once at start and passed down (no globals). */
import type { Authenticator } from './auth.ts';
import type { ManagerConfig } from './config.ts';
import type { Database } from './db.ts';
import type { HealthMonitor } from './health.ts';
import type { Logger } from './log.ts';
import type { Queue } from './queue.ts';

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
  queue: Queue;
  health: HealthMonitor;
  auth: Authenticator;
  version: VersionInfo;
  log: Logger;
}
