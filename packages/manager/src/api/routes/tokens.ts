/** Tokens: `POST /tokens` returns the secret once; later reads show the token without it. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { randomAlphanumeric, sha256Hex } from '../../auth/passwords.ts';
import type { AppContext } from '../../context.ts';
import { badParameters, notFound } from '../errors.ts';
import { includeFields, includeFrom, listResources, type Query } from '../listing.ts';
import { parseBody } from '../validate.ts';
import { caller } from './request.ts';

interface TokenRow {
  id: string;
  username: string;
  role: string;
  description: string | null;
  expiration_date: Date | null;
  last_used: Date | null;
  created_at: Date;
}

const tokenItem = (row: TokenRow) => ({
  id: row.id,
  username: row.username,
  role: row.role,
  description: row.description,
  expiration_date: row.expiration_date?.toISOString() ?? null,
  last_used: row.last_used?.toISOString() ?? null,
  created_at: row.created_at.toISOString(),
});

const createSchema = z
  .object({
    description: z.string().max(1024).nullable().optional(),
    expiration_date: z.iso.datetime({ offset: true }).nullable().optional(),
  })
  .loose();

const FROM = '(SELECT t.*, u.role FROM tokens t JOIN users u USING (username)) AS tokens';

const principalOf = (request: FastifyRequest) => caller(request).principal;

export function tokenRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post('/tokens', async (request, reply) => {
    const principal = principalOf(request);
    // A token needs no parameters: an empty body is an empty object.
    const data = parseBody(createSchema, request.body ?? {});
    // Every token expires: at the given date, or after COSMO_TOKEN_SECONDS (10 h by default).
    const expiration = data.expiration_date
      ? new Date(data.expiration_date)
      : new Date(Date.now() + ctx.config.tokenSeconds * 1000);
    if (expiration.getTime() <= Date.now()) {
      throw badParameters(`expiration_date ${data.expiration_date} is in the past`);
    }
    // A stolen token is worth only as long as it lives: none may outlive COSMO_TOKEN_MAX_SECONDS.
    const latest = new Date(Date.now() + ctx.config.tokenMaxSeconds * 1000);
    if (expiration > latest) {
      throw badParameters(
        `expiration_date ${data.expiration_date} is too far: a token lives at most ${ctx.config.tokenMaxSeconds} s (until ${latest.toISOString()})`,
      );
    }
    // A token cannot extend itself: one made with a token expires no later than that token.
    if (principal.via === 'token' && principal.tokenExpires && expiration > principal.tokenExpires) {
      if (data.expiration_date) {
        throw badParameters(
          `expiration_date ${data.expiration_date} is after the expiry of the token making it (${principal.tokenExpires.toISOString()})`,
        );
      }
      expiration.setTime(principal.tokenExpires.getTime());
    }
    const id = randomAlphanumeric(10);
    const secret = randomAlphanumeric(40);
    const { rows } = await ctx.db.query<TokenRow>(
      `WITH t AS (INSERT INTO tokens (id, username, secret_hash, description, expiration_date)
                  VALUES ($1, $2, $3, $4, $5) RETURNING *)
       SELECT t.*, u.role FROM t JOIN users u USING (username)`,
      [id, principal.username, sha256Hex(secret), data.description ?? null, expiration],
    );
    return reply.code(200).send({ ...tokenItem(rows[0]!), value: `ctok-${id}-${secret}` });
  });

  // An admin sees every token; anyone else only their own.
  const scope = (request: FastifyRequest) => {
    const principal = principalOf(request);
    return principal.role === 'sys_admin' ? undefined : principal.username;
  };

  app.get('/tokens', async (request) =>
    listResources(
      ctx.db,
      {
        from: FROM,
        scopeColumn: 'username',
        fields: {
          id: 'id',
          username: 'username',
          created_at: 'created_at',
          expiration_date: 'expiration_date',
          last_used: 'last_used',
        },
        filters: ['username'],
        defaultSort: 'created_at',
        toItem: tokenItem,
      },
      scope(request),
      request.query as Query,
    ),
  );

  const findToken = async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const owner = scope(request);
    const { rows } = await ctx.db.read<TokenRow>(
      `SELECT * FROM ${FROM} WHERE id = $1 ${owner ? 'AND username = $2' : ''}`,
      owner ? [request.params.id, owner] : [request.params.id],
    );
    if (!rows[0]) throw notFound(`token '${request.params.id}' not found`);
    return rows[0];
  };

  app.get<{ Params: { id: string } }>('/tokens/:id', async (request) =>
    includeFields(tokenItem(await findToken(request)), includeFrom(request.query as Query)),
  );

  app.delete<{ Params: { id: string } }>('/tokens/:id', async (request, reply) => {
    const token = await findToken(request);
    await ctx.db.query('DELETE FROM tokens WHERE id = $1', [token.id]);
    // At once here; other managers drop it from their cache within a second.
    ctx.auth.forgetToken(token.id);
    return reply.code(204).send();
  });
}
