/** Deployments: created from a blueprint with inputs; one node instance per node template. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { randomAlphanumeric } from '../../auth/passwords.ts';
import { type BlueprintPlan, resolveInputs } from '../../blueprints/blueprint.ts';
import { evaluate } from '../../blueprints/functions.ts';
import type { AppContext } from '../../context.ts';
import { redact } from '../../secrets/redact.ts';
import { liveValues } from '../../workflows/operation.ts';
import { ApiError, conflict, forbidden, notFound } from '../errors.ts';
import { includeFields, includeFrom, listResources, type Query } from '../listing.ts';
import {
  ACTIVE_STATUSES,
  type DeploymentRow,
  deploymentItem,
  deploymentList,
  deploymentQuery,
} from '../resources.ts';
import { checkId, parseBody } from '../validate.ts';
import { caller } from './request.ts';

const createSchema = z
  .object({
    blueprint_id: z.string().min(1, 'is required'),
    inputs: z.record(z.string(), z.unknown()).optional(),
    // Cloudify's client sends null when no display name is given: the id is shown then.
    display_name: z
      .string()
      .min(1)
      .max(256)
      .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters')
      .nullable()
      .optional(),
  })
  .loose();

export function deploymentRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.put<{ Params: { id: string } }>('/deployments/:id', async (request, reply) => {
    const { tenant, principal } = caller(request);
    const id = checkId('deployment', request.params.id);
    const body = parseBody(createSchema, request.body);
    const blueprint = await ctx.db.query<{ plan: BlueprintPlan }>(
      'SELECT plan FROM blueprints WHERE tenant = $1 AND id = $2',
      [tenant, body.blueprint_id],
    );
    if (!blueprint.rows[0]) throw notFound(`blueprint '${body.blueprint_id}' not found`);
    const plan = blueprint.rows[0].plan;
    const inputs = resolveInputs(plan, body.inputs ?? {});
    const created = await ctx.db.transaction(async (client) => {
      const { rows } = await client.query<DeploymentRow>(
        `INSERT INTO deployments (tenant, id, blueprint_id, inputs, created_by, display_name)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant, id) DO NOTHING RETURNING *`,
        [
          tenant,
          id,
          body.blueprint_id,
          JSON.stringify(inputs),
          principal.username,
          body.display_name ?? null,
        ],
      );
      if (!rows[0]) throw conflict(`deployment '${id}' already exists in tenant ${tenant}`);
      for (const nodeId of plan.installOrder) {
        await client.query(
          "INSERT INTO node_instances (tenant, deployment_id, id, node_id, state) VALUES ($1, $2, $3, $4, 'uninitialized')",
          [tenant, id, `${nodeId}_${randomAlphanumeric(6).toLowerCase()}`, nodeId],
        );
      }
      return rows[0];
    });
    return reply.code(201).send(deploymentItem({ ...created, outputs: plan.outputs }));
  });

  app.get('/deployments', async (request) =>
    listResources(ctx.db, deploymentList, caller(request).tenant, request.query as Query),
  );

  const find = async (tenant: string, id: string) => {
    const { rows } = await ctx.db.read<DeploymentRow>(deploymentQuery, [tenant, id]);
    if (!rows[0]) throw notFound(`deployment '${id}' not found`);
    return rows[0];
  };

  app.get<{ Params: { id: string } }>('/deployments/:id', async (request) =>
    includeFields(
      deploymentItem(await find(caller(request).tenant, request.params.id)),
      includeFrom(request.query as Query),
    ),
  );

  // Outputs are evaluated on every read, against the runtime properties as they are now. What a
  // get_secret put in them is shown as REDACTED, unless an administrator asks for it
  // (`?_show_secrets=true`).
  app.get<{ Params: { id: string } }>('/deployments/:id/outputs', async (request) => {
    const { tenant, principal } = caller(request);
    const show = (request.query as Query)._show_secrets === 'true';
    if (show && principal.role !== 'sys_admin') {
      throw forbidden('_show_secrets=true: only an administrator may see the secrets in outputs');
    }
    const deployment = await find(tenant, request.params.id);
    const { rows } = await ctx.db.read<{ plan: BlueprintPlan }>(
      'SELECT plan FROM blueprints WHERE tenant = $1 AND id = $2',
      [tenant, deployment.blueprint_id],
    );
    const plan = rows[0]!.plan;
    const values = await liveValues(ctx.db, ctx.secrets, tenant, deployment.id, plan, deployment.inputs);
    const outputs: Record<string, unknown> = {};
    for (const [name, output] of Object.entries(plan.outputs)) {
      const value =
        output !== null && typeof output === 'object' && 'value' in output ? output.value : output;
      try {
        outputs[name] = evaluate(value, {}, values) ?? null;
      } catch (error) {
        throw new ApiError(
          400,
          'deployment_outputs_evaluation_error',
          `output '${name}' of deployment '${deployment.id}' cannot be evaluated: ${(error as Error).message}`,
        );
      }
    }
    return { deployment_id: deployment.id, outputs: show ? outputs : redact(outputs, values.revealed) };
  });

  // As Cloudify's: a deployment whose nodes are still installed is not deleted (uninstall it first)
  // unless `force=true`; one with a running execution never is.
  app.delete<{ Params: { id: string } }>('/deployments/:id', async (request, reply) => {
    const { tenant } = caller(request);
    const deployment = await find(tenant, request.params.id);
    const force = /^true$/i.test(String((request.query as Query).force ?? ''));
    if (!force) {
      const live = await ctx.db.query<{ id: string }>(
        `SELECT id FROM node_instances WHERE tenant = $1 AND deployment_id = $2
           AND state NOT IN ('uninitialized', 'deleted') ORDER BY id LIMIT 10`,
        [tenant, deployment.id],
      );
      if (live.rows.length > 0) {
        throw new ApiError(
          400,
          'dependent_exists_error',
          `Can't delete deployment ${deployment.id} - Deployment still has active nodes (${live.rows.map((row) => row.id).join(', ')}): run uninstall first, or delete with force=true`,
        );
      }
    }
    const active = await ctx.db.query<{ id: string }>(
      'SELECT id FROM executions WHERE tenant = $1 AND deployment_id = $2 AND status = ANY($3) LIMIT 1',
      [tenant, deployment.id, ACTIVE_STATUSES],
    );
    if (active.rows[0]) {
      throw conflict(
        `deployment '${deployment.id}' has a running execution (${active.rows[0].id}); wait for it or cancel it`,
      );
    }
    await ctx.db.query('DELETE FROM deployments WHERE tenant = $1 AND id = $2', [tenant, deployment.id]);
    return reply.code(204).send();
  });

  app.get('/node-instances', async (request) => {
    const query = request.query as Query;
    return listResources(
      ctx.db,
      {
        from: 'node_instances',
        scopeColumn: 'tenant',
        fields: { id: 'id', node_id: 'node_id', deployment_id: 'deployment_id', state: 'state' },
        filters: ['deployment_id', 'node_id', 'state'],
        defaultSort: 'id',
        toItem: (row: {
          id: string;
          node_id: string;
          deployment_id: string;
          state: string;
          tenant: string;
          runtime_properties: Record<string, unknown>;
        }) => ({
          id: row.id,
          node_id: row.node_id,
          deployment_id: row.deployment_id,
          state: row.state,
          runtime_properties: row.runtime_properties,
          tenant_name: row.tenant,
        }),
      },
      caller(request).tenant,
      query,
    );
  });
}
