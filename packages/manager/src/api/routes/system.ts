/** Liveness, status, cluster status, version, maintenance, and the cluster members. */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import { clusterMembers } from '../../storage/patroni.ts';
import { conflict, notFound } from '../errors.ts';
import { pageOf } from '../listing.ts';
import { caller } from './request.ts';

export function systemRoutes(app: FastifyInstance, ctx: AppContext): void {
  // For load balancers and scripts: no auth, the JSON string "OK" or "FAIL" (Cloudify's body, which
  // checks written for it compare against). `?serving=true` asks less: that this manager can answer
  // at all (its database reads), whatever its broker and worker; the LB falls back on the managers
  // that pass it when none passes the whole check.
  app.get('/ok', { config: { public: true } }, async (request, reply) => {
    // Draining (stopping): 503, so load balancers take this manager out while it still serves.
    if (ctx.health.draining) return reply.code(503).type('application/json').send('"FAIL"');
    const ok =
      (request.query as Record<string, string>).serving === 'true' ? ctx.health.serving : ctx.health.ok;
    return reply
      .code(ok ? 200 : 500)
      .type('application/json')
      .send(ok ? '"OK"' : '"FAIL"');
  });

  app.get('/status', async (request, reply) => {
    const status = ctx.health.status();
    const summary = (request.query as Record<string, string>).summary === 'true';
    return reply.send(summary ? { status: status.status, services: {} } : status);
  });

  app.get('/cluster-status', async (request, reply) => {
    const status = await ctx.health.clusterStatus();
    if ((request.query as Record<string, string>).summary === 'true') {
      return reply.code(status.status === 'Fail' ? 500 : 200).send({ status: status.status, services: {} });
    }
    return reply.send(status);
  });

  app.get('/version', async () => ctx.version);

  app.get('/maintenance', async () => ctx.maintenance.status());
  app.post('/maintenance/activate', async (request) =>
    ctx.maintenance.activate(caller(request).principal.username),
  );
  app.post('/maintenance/deactivate', async () => ctx.maintenance.deactivate());

  app.get('/managers', async () => {
    const { rows } = await ctx.db.read<{
      hostname: string;
      private_ip: string;
      public_ip: string;
      version: string;
      roles: string;
      last_seen: Date;
    }>('SELECT hostname, private_ip, public_ip, version, roles, last_seen FROM managers ORDER BY hostname');
    const items = rows.map((row, i) => ({
      id: i + 1,
      hostname: row.hostname,
      private_ip: row.private_ip,
      public_ip: row.public_ip,
      version: row.version,
      edition: ctx.version.edition,
      distribution: ctx.version.distribution,
      distro_release: ctx.version.distro_release,
      networks: { default: row.private_ip },
      roles: row.roles,
      last_seen: row.last_seen.toISOString(),
    }));
    return pageOf(items, 0, items.length, items.length);
  });

  // Removes a manager that is gone for good, before the forget time does (COSMO_MANAGER_FORGET_SECONDS).
  app.delete('/managers/:hostname', async (request, reply) => {
    const { hostname } = request.params as { hostname: string };
    const { rows } = await ctx.db.query<{ age: number }>(
      'SELECT extract(epoch FROM now() - last_seen)::float AS age FROM managers WHERE hostname = $1',
      [hostname],
    );
    if (!rows[0]) throw notFound(`manager '${hostname}' not found`);
    if (rows[0].age <= ctx.config.heartbeat.staleSeconds) {
      throw conflict(
        `manager '${hostname}' sent a heartbeat ${Math.round(rows[0].age)} s ago: stop it first, then remove it`,
      );
    }
    await ctx.db.query('DELETE FROM managers WHERE hostname = $1', [hostname]);
    return reply.code(204).send();
  });

  app.get('/brokers', async () => {
    const { mq } = ctx.config;
    const items = mq.hosts.map((host, i) => ({
      id: i + 1,
      name: host.host,
      host: host.host,
      port: host.port,
      is_external: mq.external,
      networks: { default: host.host },
    }));
    return pageOf(items, 0, items.length, items.length);
  });

  app.get('/db-nodes', async () => {
    const { db } = ctx.config;
    let items: { name: string; host: string; is_external: boolean; role?: string; state?: string }[];
    if (db.patroniUrls.length > 0) {
      const members = await clusterMembers(db.patroniUrls, db.patroniTls).catch(() => []);
      items = members.map((m) => ({
        name: m.name,
        host: m.host,
        is_external: false,
        role: m.role,
        state: m.state,
      }));
    } else {
      items = [{ name: db.host, host: db.host, is_external: db.external }];
    }
    return pageOf(items, 0, items.length, items.length);
  });
}
