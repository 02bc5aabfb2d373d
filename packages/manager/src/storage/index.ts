/** PostgreSQL: the connection that follows the Patroni primary, and the schema's migrations. */
export * from './db.ts';
export * from './migrations.ts';
export * from './patroni.ts';
