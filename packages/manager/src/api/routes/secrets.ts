/**
 * Secrets, as Cloudify's `/secrets`: create (PUT, or update with `update_if_exists`), read (the value
 * in clear, '' for a hidden one the caller may not see), change (PATCH), delete, and list (never a
 * value). Values are sealed before they are stored and opened only to answer GET /secrets/<key>.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../context.ts';
import { mayReveal, type SecretRow, secretItem, VISIBILITIES } from '../../secrets/store.ts';
import { conflict, forbidden, notFound } from '../errors.ts';
import { type ListSpec, listResources, type Query } from '../listing.ts';
import { checkId, flag, parseBody } from '../validate.ts';
import { caller } from './request.ts';

const value = z.string().min(1, 'must not be empty: a secret needs a value');
/** Fields of newer Cloudify versions this manager has no counterpart for: refused, never ignored. */
const unsupported = {
  provider_name: z
    .null({ message: 'secrets providers are not supported here: store the value itself' })
    .optional(),
  provider_options: z.null({ message: 'secrets providers are not supported here' }).optional(),
  schema: z.null({ message: 'secret schemas are not supported here' }).optional(),
};

const createSchema = z
  .object({
    value,
    update_if_exists: flag,
    is_hidden_value: flag,
    visibility: z.enum(VISIBILITIES).nullable().optional(),
    ...unsupported,
  })
  .loose();

const updateSchema = z
  .object({
    value: value.optional(),
    is_hidden_value: flag,
    visibility: z.enum(VISIBILITIES).nullable().optional(),
    ...unsupported,
  })
  .loose();

const secretList: ListSpec<SecretRow, ReturnType<typeof secretItem>> = {
  // Listed without values: the sealed column is not even read.
  from: '(SELECT tenant, key, is_hidden_value, visibility, created_by, created_at, updated_at FROM secrets) AS secrets',
  scopeColumn: 'tenant',
  fields: {
    key: 'key',
    id: 'key',
    created_at: 'created_at',
    updated_at: 'updated_at',
    visibility: 'visibility',
    created_by: 'created_by',
    is_hidden_value: 'is_hidden_value',
  },
  filters: ['key', 'visibility', 'created_by'],
  defaultSort: 'key',
  toItem: (row) => secretItem(row),
};

export function secretRoutes(app: FastifyInstance, ctx: AppContext): void {
  const find = async (tenant: string, key: string) => {
    const row = await ctx.secrets.find(tenant, checkId('secret', key));
    if (!row) throw notFound(`secret '${key}' not found`);
    return row;
  };

  app.get('/secrets', async (request) =>
    listResources(ctx.db, secretList, caller(request).tenant, request.query as Query),
  );

  app.get<{ Params: { key: string } }>('/secrets/:key', async (request) => {
    const { tenant, principal } = caller(request);
    const row = await find(tenant, request.params.key);
    return secretItem(row, row.is_hidden_value && !mayReveal(principal, row) ? '' : ctx.secrets.open(row));
  });

  app.put<{ Params: { key: string } }>('/secrets/:key', async (request, reply) => {
    const { tenant, principal } = caller(request);
    const key = checkId('secret', request.params.key);
    const body = parseBody(createSchema, request.body);
    const sealed = ctx.secrets.seal(tenant, key, body.value);
    const { rows } = await ctx.db.query<SecretRow>(
      `INSERT INTO secrets (tenant, key, value, is_hidden_value, visibility, created_by)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (tenant, key) DO NOTHING RETURNING *`,
      [tenant, key, sealed, body.is_hidden_value ?? false, body.visibility ?? 'tenant', principal.username],
    );
    if (rows[0]) return reply.code(201).send(secretItem(rows[0], body.value));
    if (!body.update_if_exists) {
      throw conflict(
        `secret '${key}' already exists in tenant ${tenant} (update_if_exists=true replaces it)`,
      );
    }
    const existing = await find(tenant, key);
    if (existing.is_hidden_value && !mayReveal(principal, existing)) {
      throw forbidden(`${principal.username} may not change the hidden-value secret '${key}'`);
    }
    const updated = await ctx.db.query<SecretRow>(
      `UPDATE secrets SET value = $3, is_hidden_value = $4, visibility = $5, updated_at = now()
       WHERE tenant = $1 AND key = $2 RETURNING *`,
      [
        tenant,
        key,
        sealed,
        body.is_hidden_value ?? existing.is_hidden_value,
        body.visibility ?? existing.visibility,
      ],
    );
    return reply.code(201).send(secretItem(updated.rows[0]!, body.value));
  });

  app.patch<{ Params: { key: string } }>('/secrets/:key', async (request) => {
    const { tenant, principal } = caller(request);
    const body = parseBody(updateSchema, request.body);
    const row = await find(tenant, request.params.key);
    if (row.tenant !== tenant) throw forbidden(`secret '${row.key}' belongs to tenant ${row.tenant}`);
    if (row.is_hidden_value && !mayReveal(principal, row)) {
      throw forbidden(`${principal.username} may not change the hidden-value secret '${row.key}'`);
    }
    const { rows } = await ctx.db.query<SecretRow>(
      `UPDATE secrets SET value = coalesce($3, value), is_hidden_value = coalesce($4, is_hidden_value),
         visibility = coalesce($5, visibility), updated_at = now()
       WHERE tenant = $1 AND key = $2 RETURNING *`,
      [
        tenant,
        row.key,
        body.value === undefined ? null : ctx.secrets.seal(tenant, row.key, body.value),
        body.is_hidden_value ?? null,
        body.visibility ?? null,
      ],
    );
    if (!rows[0]) throw notFound(`secret '${row.key}' not found`);
    return secretItem(
      rows[0],
      rows[0].is_hidden_value && !mayReveal(principal, rows[0]) ? '' : ctx.secrets.open(rows[0]),
    );
  });

  app.delete<{ Params: { key: string } }>('/secrets/:key', async (request, reply) => {
    const { tenant, principal } = caller(request);
    const row = await find(tenant, request.params.key);
    if (row.tenant !== tenant) throw forbidden(`secret '${row.key}' belongs to tenant ${row.tenant}`);
    if (row.is_hidden_value && !mayReveal(principal, row)) {
      throw forbidden(`${principal.username} may not delete the hidden-value secret '${row.key}'`);
    }
    await ctx.db.query('DELETE FROM secrets WHERE tenant = $1 AND key = $2', [tenant, row.key]);
    return reply.code(204).send();
  });
}
