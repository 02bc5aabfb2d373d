/**
 * Maintenance mode, as Cloudify's: once activated, every request that would change something (a
 * new execution, an upload, a delete, …) gets 503 `maintenance_mode_active`, while reads, status and
 * the maintenance endpoints keep working. Kept in PostgreSQL so every manager agrees; each manager
 * reads it at most once a second.
 */
import type { Database } from '../storage/db.ts';
import { ApiError } from './errors.ts';
import { ACTIVE_STATUSES } from './resources.ts';

interface MaintenanceRow {
  activated_at: Date | null;
  requested_by: string;
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const CACHE_MS = 1_000;

export class Maintenance {
  private readonly db: Database;
  private cached: { at: number; row: MaintenanceRow | undefined } | undefined;

  constructor(db: Database) {
    this.db = db;
  }

  private async row(): Promise<MaintenanceRow | undefined> {
    if (this.cached && Date.now() - this.cached.at < CACHE_MS) return this.cached.row;
    const { rows } = await this.db.read<MaintenanceRow>('SELECT activated_at, requested_by FROM maintenance');
    this.cached = { at: Date.now(), row: rows[0] };
    return rows[0];
  }

  /** Refuses a write while maintenance mode is active; `path` is the route without the API prefix. */
  async check(method: string, path: string): Promise<void> {
    if (READ_METHODS.has(method) || path.startsWith('/maintenance')) return;
    const row = await this.row();
    if (row?.activated_at) {
      throw new ApiError(
        503,
        'maintenance_mode_active',
        `the manager is in maintenance mode (activated by ${row.requested_by || 'an administrator'}): only reads work; POST /maintenance/deactivate ends it`,
      );
    }
  }

  /** GET /maintenance's answer. `activating` while executions still run, as Cloudify's. */
  async status() {
    const row = await this.row();
    if (!row?.activated_at) {
      return {
        status: 'deactivated',
        activated_at: null,
        activation_requested_at: null,
        remaining_executions: null,
        requested_by: '',
      };
    }
    const { rows } = await this.db.read<{
      id: string;
      deployment_id: string;
      workflow_id: string;
      status: string;
    }>(
      'SELECT id, deployment_id, workflow_id, status FROM executions WHERE status = ANY($1) ORDER BY created_at LIMIT 100',
      [ACTIVE_STATUSES],
    );
    return {
      status: rows.length > 0 ? 'activating' : 'activated',
      activated_at: rows.length > 0 ? null : row.activated_at.toISOString(),
      activation_requested_at: row.activated_at.toISOString(),
      remaining_executions: rows,
      requested_by: row.requested_by,
    };
  }

  async activate(username: string) {
    await this.db.query(
      `INSERT INTO maintenance (id, activated_at, requested_by) VALUES (true, now(), $1)
       ON CONFLICT (id) DO UPDATE SET activated_at = coalesce(maintenance.activated_at, now()), requested_by = $1`,
      [username],
    );
    this.cached = undefined;
    return this.status();
  }

  async deactivate() {
    await this.db.query('DELETE FROM maintenance');
    this.cached = undefined;
    return this.status();
  }
}
