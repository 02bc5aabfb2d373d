/**
 * Schema migrations, applied at start. Several managers may start at once: a session advisory lock
 * lets one apply them while the others wait, then find nothing left to do.
 */

import type { Logger } from '../log.ts';
import type { Database } from './db.ts';

const LOCK_KEY = 0x636f736d6f; // "cosmo"

export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE tenants (
     name text PRIMARY KEY,
     created_at timestamptz NOT NULL DEFAULT now()
   );
   INSERT INTO tenants (name) VALUES ('default_tenant');

   CREATE TABLE users (
     username text PRIMARY KEY,
     password_hash text NOT NULL,
     role text NOT NULL,
     failed_logins integer NOT NULL DEFAULT 0,
     locked_until timestamptz,
     created_at timestamptz NOT NULL DEFAULT now(),
     last_login_at timestamptz
   );

   CREATE TABLE tokens (
     id text PRIMARY KEY,
     username text NOT NULL REFERENCES users ON DELETE CASCADE,
     secret_hash text NOT NULL,
     description text,
     expiration_date timestamptz,
     last_used timestamptz,
     created_at timestamptz NOT NULL DEFAULT now()
   );

   CREATE TABLE blueprints (
     tenant text NOT NULL REFERENCES tenants,
     id text NOT NULL,
     main_file_name text NOT NULL,
     description text,
     plan jsonb NOT NULL,
     created_by text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now(),
     updated_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (tenant, id)
   );

   CREATE TABLE deployments (
     tenant text NOT NULL,
     id text NOT NULL,
     blueprint_id text NOT NULL,
     inputs jsonb NOT NULL,
     created_by text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now(),
     updated_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (tenant, id),
     FOREIGN KEY (tenant, blueprint_id) REFERENCES blueprints (tenant, id)
   );

   CREATE TABLE node_instances (
     tenant text NOT NULL,
     deployment_id text NOT NULL,
     id text NOT NULL,
     node_id text NOT NULL,
     state text NOT NULL,
     PRIMARY KEY (tenant, id),
     FOREIGN KEY (tenant, deployment_id) REFERENCES deployments (tenant, id) ON DELETE CASCADE
   );

   CREATE TABLE executions (
     id uuid PRIMARY KEY,
     tenant text NOT NULL,
     deployment_id text NOT NULL,
     blueprint_id text NOT NULL,
     workflow_id text NOT NULL,
     parameters jsonb NOT NULL DEFAULT '{}',
     status text NOT NULL,
     error text NOT NULL DEFAULT '',
     created_by text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now(),
     started_at timestamptz,
     ended_at timestamptz,
     FOREIGN KEY (tenant, deployment_id) REFERENCES deployments (tenant, id) ON DELETE CASCADE
   );
   CREATE INDEX executions_deployment ON executions (tenant, deployment_id);

   -- step_key makes recording a step idempotent: a redelivered message cannot add an event twice.
   CREATE TABLE events (
     id bigserial PRIMARY KEY,
     execution_id uuid NOT NULL REFERENCES executions ON DELETE CASCADE,
     step_key text NOT NULL,
     event_type text NOT NULL,
     message text NOT NULL,
     node_id text,
     node_instance_id text,
     operation text,
     timestamp timestamptz NOT NULL DEFAULT clock_timestamp(),
     UNIQUE (execution_id, step_key)
   );

   CREATE TABLE managers (
     hostname text PRIMARY KEY,
     private_ip text NOT NULL,
     public_ip text NOT NULL,
     version text NOT NULL,
     roles text NOT NULL,
     last_seen timestamptz NOT NULL,
     health jsonb NOT NULL DEFAULT '{}'
   );`,
  // 2: failed logins counted per user and source address (replaces the per-user lock).
  `CREATE TABLE login_throttle (
     username text NOT NULL,
     source text NOT NULL,
     failures integer NOT NULL DEFAULT 0,
     next_allowed_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (username, source)
   );
   ALTER TABLE users DROP COLUMN failed_logins, DROP COLUMN locked_until;`,
  // 3: real operations: the scripts of a blueprint, runtime properties, who runs an execution.
  `CREATE TABLE blueprint_files (
     tenant text NOT NULL,
     blueprint_id text NOT NULL,
     path text NOT NULL,
     content bytea NOT NULL,
     PRIMARY KEY (tenant, blueprint_id, path),
     FOREIGN KEY (tenant, blueprint_id) REFERENCES blueprints (tenant, id) ON DELETE CASCADE
   );
   ALTER TABLE node_instances ADD COLUMN runtime_properties jsonb NOT NULL DEFAULT '{}';
   ALTER TABLE executions ADD COLUMN worker text, ADD COLUMN is_dry_run boolean NOT NULL DEFAULT false;
   CREATE TABLE maintenance (
     id boolean PRIMARY KEY DEFAULT true CHECK (id),
     activated_at timestamptz,
     requested_by text NOT NULL DEFAULT ''
   );`,
  // 4: what Cloudify's client reads: the execution that parsed a blueprint (the upload itself,
  // synchronous here) and a deployment's display name.
  `ALTER TABLE blueprints ADD COLUMN upload_execution_id uuid NOT NULL DEFAULT gen_random_uuid();
   ALTER TABLE deployments ADD COLUMN display_name text;`,
  // 5: secrets, sealed with the platform's secrets key (never stored here): secrets/cipher.ts.
  `CREATE TABLE secrets (
     tenant text NOT NULL,
     key text NOT NULL,
     value text NOT NULL,
     is_hidden_value boolean NOT NULL DEFAULT false,
     visibility text NOT NULL DEFAULT 'tenant' CHECK (visibility IN ('private', 'tenant', 'global')),
     created_by text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now(),
     updated_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (tenant, key)
   );`,
];

export async function migrate(db: Database, log: Logger): Promise<number> {
  const client = await db.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ v: number | null }>(
      'SELECT max(version) AS v FROM schema_migrations',
    );
    const current = rows[0]?.v ?? 0;
    for (let version = current + 1; version <= MIGRATIONS.length; version++) {
      log.info(`applying schema migration ${version}`);
      await client.query('BEGIN');
      try {
        await client.query(MIGRATIONS[version - 1]!);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    }
    return MIGRATIONS.length - current;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {});
    client.release();
  }
}
