/**
 * The REST API: fastify under /api/v3.1, authentication on every route but /ok, and one error shape
 * for everything that goes wrong — never a stack trace, never a crash.
 */
import multipart from '@fastify/multipart';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import { checkBounds } from './bounds.ts';
import { ApiError, badParameters, errorBody, forbidden } from './errors.ts';
import { blueprintRoutes } from './routes/blueprints.ts';
import { deploymentRoutes } from './routes/deployments.ts';
import { executionRoutes } from './routes/executions.ts';
import type { Caller } from './routes/request.ts';
import { secretRoutes } from './routes/secrets.ts';
import { systemRoutes } from './routes/system.ts';
import { tokenRoutes } from './routes/tokens.ts';

export const API_PREFIX = '/api/v3.1';
const DEFAULT_TENANT = 'default_tenant';

/** Known tenants, re-read at most every few seconds: an unknown name must not cost a query per request. */
function tenantCache(ctx: AppContext): (name: string) => Promise<boolean> {
  let names = new Set<string>();
  let at = 0;
  return async (name) => {
    if (names.has(name)) return true;
    if (Date.now() - at > 2_000) {
      const { rows } = await ctx.db.read<{ name: string }>('SELECT name FROM tenants');
      names = new Set(rows.map((row) => row.name));
      at = Date.now();
    }
    return names.has(name);
  };
}

/** HTTP errors raised by fastify itself (bad JSON, too large, bad media type), in the API's codes. */
function frameworkError(error: FastifyError): ApiError | undefined {
  const status = error.statusCode ?? 500;
  if (status === 413 || error.code === 'FST_REQ_FILE_TOO_LARGE' || error.code === 'FST_FILES_LIMIT') {
    return new ApiError(413, 'payload_too_large_error', `the request body is too large: ${error.message}`);
  }
  if (status === 415) {
    return new ApiError(
      415,
      'unsupported_media_type_error',
      `${error.message}; send application/json (or YAML or an archive for blueprints)`,
    );
  }
  if (status >= 400 && status < 500) return new ApiError(400, 'bad_parameters_error', error.message);
  return undefined;
}

/** Database constraint errors a request can cause, as client errors. */
function constraintError(error: { code?: string; detail?: string }): ApiError | undefined {
  if (error.code === '23505')
    return new ApiError(409, 'conflict_error', `already exists: ${error.detail ?? ''}`.trim());
  if (error.code === '23503')
    return new ApiError(409, 'conflict_error', `conflicts with related data: ${error.detail ?? ''}`.trim());
  if (error.code === '22P02' || error.code === '22007' || error.code === '22008') {
    return new ApiError(400, 'bad_parameters_error', 'a value in the request has the wrong format');
  }
  return undefined;
}

export async function createServer(ctx: AppContext): Promise<FastifyInstance> {
  // The HTTPS server's instance differs from the HTTP one in its type only; routes see the same API.
  const app = Fastify({
    ...(ctx.config.http.tls ? { https: ctx.config.http.tls } : {}),
    logger: false,
    // Behind the load balancer the caller's address is the last X-Forwarded-For hop it added (it
    // drops any a client sent), believed only from the load balancers themselves; failed logins are
    // counted by that address.
    trustProxy: ctx.proxies.trusts,
    bodyLimit: ctx.config.maxUploadBytes,
    // Ids longer than any valid one still reach the route, whose check answers 400 in the API's format.
    routerOptions: { maxParamLength: 4096 },
    // A URL the router cannot decode (`/api/v3.1/%ff`) gets the API's error format too.
    frameworkErrors: (error, _request, reply) => {
      // The generic reply type of this hook knows no status codes; it is a plain reply here.
      const plain = reply as unknown as { code(status: number): { send(body: unknown): void } };
      plain.code(400).send(errorBody('bad_parameters_error', `the request cannot be read: ${error.message}`));
    },
  });

  await app.register(multipart, {
    limits: { fileSize: ctx.config.maxUploadBytes, files: 1, fields: 10 },
    throwFileSizeLimit: true,
  });

  // Cloudify's client sends `Content-Type: application/json` on every request, a DELETE or a GET
  // without a body too: an empty JSON body is no body, not an error.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (error) {
      done(
        badParameters(`the body is not JSON: ${(error as Error).message}`) as unknown as FastifyError,
        undefined,
      );
    }
  });
  for (const type of ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml']) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (_request, body, done) => done(null, body));
  }
  for (const type of [
    'application/octet-stream',
    'application/gzip',
    'application/x-gzip',
    'application/zip',
    'application/x-tar',
  ]) {
    app.addContentTypeParser(type, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  }

  const knownTenant = tenantCache(ctx);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    if ((request.routeOptions.config as { public?: boolean } | undefined)?.public) return;
    const principal = await ctx.auth.authenticate(request.headers, request.ip);
    const header = request.headers.tenant;
    const tenant = (Array.isArray(header) ? header[0] : header)?.trim() || DEFAULT_TENANT;
    if (!(await knownTenant(tenant)))
      throw forbidden(`tenant '${tenant.slice(0, 100)}' does not exist or you are not a member of it`);
    Object.assign(request, { principal, tenant } satisfies Caller);
    await ctx.maintenance.check(
      request.method,
      (request.routeOptions.url ?? request.url).replace(API_PREFIX, ''),
    );
  });

  // Decoded JSON bodies are bounded before any route walks them (a 5,000-deep value overflowed the stack).
  app.addHook('preValidation', async (request: FastifyRequest) => {
    if (request.body !== null && typeof request.body === 'object' && !Buffer.isBuffer(request.body)) {
      checkBounds(request.body, 'the request body', { maxDepth: 64, maxChars: ctx.config.maxUploadBytes });
    }
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const known =
      error instanceof ApiError
        ? error
        : (frameworkError(error) ?? constraintError(error as unknown as { code?: string }));
    if (known) {
      return reply.code(known.status).send(errorBody(known.code, known.message));
    }
    ctx.log.error(`${request.method} ${request.url.split('?')[0]}: ${error.stack ?? error.message}`);
    return reply
      .code(500)
      .send(errorBody('internal_server_error', 'internal server error; the manager log has the details'));
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(errorBody('not_found_error', `no such endpoint: ${request.method} ${request.url.split('?')[0]}`)),
  );

  await app.register(
    async (api) => {
      systemRoutes(api, ctx);
      tokenRoutes(api, ctx);
      secretRoutes(api, ctx);
      blueprintRoutes(api, ctx);
      deploymentRoutes(api, ctx);
      executionRoutes(api, ctx);
    },
    { prefix: API_PREFIX },
  );
  // The unversioned version endpoint clients probe before they know the API version.
  app.get('/api/version', async () => ctx.version);
  return app;
}
