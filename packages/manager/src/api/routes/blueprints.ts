/**
 * Blueprints. Upload takes what the Cloudify client sends (multipart: a `params` JSON field with
 * `application_file_name` and a `blueprint_archive` file), an archive as the body, or plain YAML.
 */
import type {} from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { blueprintFromArchive } from '../../blueprints/archive.ts';
import { parseBlueprint, scriptsOf } from '../../blueprints/blueprint.ts';
import type { AppContext } from '../../context.ts';
import { ApiError, badParameters, conflict, notFound } from '../errors.ts';
import { includeFields, includeFrom, listResources, type Query } from '../listing.ts';
import { type BlueprintRow, blueprintItem, blueprintList } from '../resources.ts';
import { checkId } from '../validate.ts';
import { caller } from './request.ts';

interface Upload {
  fileName: string;
  yaml: string;
  /** An archive's files beside the YAML; none for a YAML upload. */
  files: Map<string, Buffer> | undefined;
}

function fileNameFrom(params: unknown, query: Query): string {
  const fromParams = (params as { application_file_name?: unknown } | undefined)?.application_file_name;
  const value = fromParams ?? query.application_file_name ?? 'blueprint.yaml';
  if (typeof value !== 'string' || value === '')
    throw badParameters('application_file_name must be a non-empty string');
  return value;
}

async function readUpload(request: FastifyRequest): Promise<Upload> {
  const query = request.query as Query;
  if (query.blueprint_archive_url) {
    throw badParameters('blueprint_archive_url is not supported: upload the archive itself');
  }
  if (request.isMultipart()) {
    let params: unknown;
    let archive: Buffer | undefined;
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'blueprint_archive') {
          part.file.resume();
          throw badParameters(
            `unexpected file field '${part.fieldname}': send the archive as blueprint_archive`,
          );
        }
        archive = await part.toBuffer();
      } else if (part.fieldname === 'params') {
        try {
          params = JSON.parse(String(part.value));
        } catch {
          throw badParameters(
            'the params field must be JSON, e.g. {"application_file_name": "blueprint.yaml"}',
          );
        }
        if (params === null || typeof params !== 'object' || Array.isArray(params)) {
          throw badParameters('the params field must be a JSON object');
        }
      }
    }
    if (!archive)
      throw badParameters('missing blueprint_archive: the multipart upload carries no archive file');
    const fileName = fileNameFrom(params, query);
    return { fileName, ...(await blueprintFromArchive(archive, fileName)) };
  }
  const body = request.body;
  if (Buffer.isBuffer(body)) {
    const fileName = fileNameFrom(undefined, query);
    return { fileName, ...(await blueprintFromArchive(body, fileName)) };
  }
  if (typeof body === 'string' && body.trim() !== '') {
    return { fileName: fileNameFrom(undefined, query), yaml: body, files: undefined };
  }
  throw badParameters(
    'no blueprint: send multipart with blueprint_archive, an archive (application/octet-stream) or YAML (application/yaml)',
  );
}

export function blueprintRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.put<{ Params: { id: string } }>('/blueprints/:id', async (request, reply) => {
    const { tenant, principal } = caller(request);
    const id = checkId('blueprint', request.params.id);
    const upload = await readUpload(request);
    const plan = parseBlueprint(upload.yaml, upload.files ? new Set(upload.files.keys()) : undefined);
    // The scripts its operations name are kept with it: any manager's worker may run them.
    const scripts = new Set(scriptsOf(plan));
    const row = await ctx.db.transaction(async (client) => {
      const { rows } = await client.query<BlueprintRow>(
        `INSERT INTO blueprints (tenant, id, main_file_name, description, plan, created_by)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant, id) DO NOTHING RETURNING *`,
        [tenant, id, upload.fileName, plan.description, JSON.stringify(plan), principal.username],
      );
      if (!rows[0]) throw conflict(`blueprint '${id}' already exists in tenant ${tenant}`);
      for (const script of scripts) {
        await client.query(
          'INSERT INTO blueprint_files (tenant, blueprint_id, path, content) VALUES ($1, $2, $3, $4)',
          [tenant, id, script, upload.files!.get(script)!],
        );
      }
      return rows[0];
    });
    return reply.code(201).send(blueprintItem(row));
  });

  app.get('/blueprints', async (request) =>
    listResources(ctx.db, blueprintList, caller(request).tenant, request.query as Query),
  );

  const find = async (tenant: string, id: string) => {
    const { rows } = await ctx.db.read<BlueprintRow>(
      'SELECT * FROM blueprints WHERE tenant = $1 AND id = $2',
      [tenant, id],
    );
    if (!rows[0]) throw notFound(`blueprint '${id}' not found`);
    return rows[0];
  };

  app.get<{ Params: { id: string } }>('/blueprints/:id', async (request) =>
    includeFields(
      blueprintItem(await find(caller(request).tenant, request.params.id)),
      includeFrom(request.query as Query),
    ),
  );

  app.delete<{ Params: { id: string } }>('/blueprints/:id', async (request, reply) => {
    const { tenant } = caller(request);
    const blueprint = await find(tenant, request.params.id);
    const used = await ctx.db.query<{ id: string }>(
      'SELECT id FROM deployments WHERE tenant = $1 AND blueprint_id = $2 LIMIT 5',
      [tenant, blueprint.id],
    );
    if (used.rows.length > 0) {
      throw new ApiError(
        400,
        'dependent_exists_error',
        `blueprint '${blueprint.id}' is used by deployment(s) ${used.rows.map((r) => r.id).join(', ')}; delete them first`,
      );
    }
    await ctx.db.query('DELETE FROM blueprints WHERE tenant = $1 AND id = $2', [tenant, blueprint.id]);
    return reply.code(204).send();
  });
}
