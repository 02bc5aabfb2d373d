/**
 * Executions and their events. Starting one records it `pending` and queues it (publisher confirms);
 * the worker takes it from there. Cancelling marks it; the worker stops between steps.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { z } from 'zod';
import type { BlueprintPlan } from '../../blueprints/blueprint.ts';
import { EXECUTIONS_QUEUE } from '../../broker/client.ts';
import type { AppContext } from '../../context.ts';
import { SCOPE_PARAMETERS, ScopeError, workflowScope } from '../../workflows/workflow.ts';
import { ApiError, badParameters, conflict, notFound } from '../errors.ts';
import { includeFields, includeFrom, listResources, type Query } from '../listing.ts';
import {
  ACTIVE_STATUSES,
  type BlueprintRow,
  type ExecutionRow,
  eventList,
  executionItem,
  executionList,
  uploadExecutionItem,
  WORKFLOWS,
} from '../resources.ts';
import { flag, parseBody } from '../validate.ts';
import { caller } from './request.ts';

const optionalText = z.string().nullable().optional();

const startSchema = z
  .object({
    deployment_id: z.string().min(1, 'is required'),
    workflow_id: z.string().min(1, 'is required'),
    parameters: z.record(z.string(), z.unknown()).nullable().optional(),
    force: flag,
    dry_run: flag,
    queue: flag,
    allow_custom_parameters: flag,
    wait_after_fail: z.number().nullable().optional(),
    scheduled_time: optionalText,
    force_status: optionalText,
    created_by: optionalText,
    created_at: optionalText,
    started_at: optionalText,
    ended_at: optionalText,
    id: optionalText,
    execution_group_id: optionalText,
  })
  .loose();

/** The parameters install and uninstall take, as Cloudify's do. */
const WORKFLOW_PARAMETERS = new Set([
  'task_retries',
  'task_retry_interval',
  'ignore_failure',
  'type_names',
  'node_ids',
  'node_instance_ids',
]);

const actionSchema = z.object({ action: z.enum(['cancel', 'force-cancel', 'kill']) }).loose();

/** node_ids, node_instance_ids and type_names name what the deployment has, or the start is a 400. */
async function checkScope(
  client: pg.PoolClient,
  tenant: string,
  deployment: string,
  blueprint: string,
  parameters: Record<string, unknown>,
): Promise<void> {
  const plan = await client.query<{ plan: BlueprintPlan }>(
    'SELECT plan FROM blueprints WHERE tenant = $1 AND id = $2',
    [tenant, blueprint],
  );
  const instances = await client.query<{ id: string; node_id: string }>(
    'SELECT id, node_id FROM node_instances WHERE tenant = $1 AND deployment_id = $2',
    [tenant, deployment],
  );
  try {
    workflowScope(parameters, plan.rows[0]!.plan, instances.rows);
  } catch (error) {
    if (error instanceof ScopeError) throw badParameters(error.message);
    throw error;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function executionRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post('/executions', async (request, reply) => {
    const { tenant, principal } = caller(request);
    const body = parseBody(startSchema, request.body);
    if (!(WORKFLOWS as readonly string[]).includes(body.workflow_id)) {
      throw new ApiError(
        400,
        'nonexistent_workflow_error',
        `workflow '${body.workflow_id}' does not exist; deployments have ${WORKFLOWS.join(', ')}`,
      );
    }
    if (body.scheduled_time)
      throw badParameters('scheduled_time is not supported: start the execution when it should run');
    const parameters = body.parameters ?? {};
    const custom = Object.keys(parameters).filter((name) => !WORKFLOW_PARAMETERS.has(name));
    if (custom.length > 0 && !body.allow_custom_parameters) {
      throw new ApiError(
        400,
        'illegal_execution_parameter_error',
        `workflow '${body.workflow_id}' takes no parameter(s) ${custom.join(', ')} (it takes ${[...WORKFLOW_PARAMETERS].join(', ')}); pass allow_custom_parameters to send them anyway`,
      );
    }
    const id = randomUUID();
    const execution = await ctx.db.transaction(async (client) => {
      // The row lock makes "no other running execution" hold under concurrent requests.
      const deployment = await client.query<{ blueprint_id: string }>(
        'SELECT blueprint_id FROM deployments WHERE tenant = $1 AND id = $2 FOR UPDATE',
        [tenant, body.deployment_id],
      );
      if (!deployment.rows[0]) throw notFound(`deployment '${body.deployment_id}' not found`);
      const running = await client.query<{ id: string }>(
        'SELECT id FROM executions WHERE tenant = $1 AND deployment_id = $2 AND status = ANY($3) LIMIT 1',
        [tenant, body.deployment_id, ACTIVE_STATUSES],
      );
      if (SCOPE_PARAMETERS.some((name) => parameters[name] !== undefined && parameters[name] !== null)) {
        await checkScope(client, tenant, body.deployment_id, deployment.rows[0].blueprint_id, parameters);
      }
      if (running.rows[0] && !body.force) {
        throw new ApiError(
          400,
          'existing_running_execution_error',
          `deployment '${body.deployment_id}' already has a running execution (${running.rows[0].id})`,
        );
      }
      const { rows } = await client.query<ExecutionRow>(
        `INSERT INTO executions (id, tenant, deployment_id, blueprint_id, workflow_id, parameters, status, created_by, is_dry_run)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8) RETURNING *`,
        [
          id,
          tenant,
          body.deployment_id,
          deployment.rows[0].blueprint_id,
          body.workflow_id,
          JSON.stringify(parameters),
          principal.username,
          body.dry_run ?? false,
        ],
      );
      return rows[0]!;
    });
    try {
      await ctx.broker.publish(EXECUTIONS_QUEUE, { execution_id: id });
    } catch (error) {
      await ctx.db
        .query("UPDATE executions SET status = 'failed', error = $2, ended_at = now() WHERE id = $1", [
          id,
          (error as Error).message,
        ])
        .catch(() => {});
      throw error;
    }
    return reply.code(201).send(executionItem(execution));
  });

  app.get('/executions', async (request) =>
    listResources(ctx.db, executionList, caller(request).tenant, request.query as Query),
  );

  const find = async (tenant: string, id: string) => {
    if (!UUID.test(id)) throw notFound(`execution '${id.slice(0, 80)}' not found`);
    const { rows } = await ctx.db.read<ExecutionRow>(
      'SELECT * FROM executions WHERE tenant = $1 AND id = $2',
      [tenant, id],
    );
    if (!rows[0]) throw notFound(`execution '${id}' not found`);
    return rows[0];
  };

  app.get<{ Params: { id: string } }>('/executions/:id', async (request) => {
    const { tenant } = caller(request);
    const include = includeFrom(request.query as Query);
    // A blueprint's upload execution (what Cloudify's client follows after an upload) is its own.
    if (UUID.test(request.params.id)) {
      const { rows } = await ctx.db.read<BlueprintRow>(
        'SELECT * FROM blueprints WHERE tenant = $1 AND upload_execution_id = $2',
        [tenant, request.params.id],
      );
      if (rows[0]) return includeFields(uploadExecutionItem(rows[0]), include);
    }
    return includeFields(executionItem(await find(tenant, request.params.id)), include);
  });

  app.post<{ Params: { id: string } }>('/executions/:id', async (request) => {
    const { tenant } = caller(request);
    const { action } = parseBody(actionSchema, request.body);
    const execution = await find(tenant, request.params.id);
    if (!ACTIVE_STATUSES.includes(execution.status)) {
      throw conflict(
        `execution ${execution.id} is already ${execution.status}; only a running execution can be cancelled`,
      );
    }
    // A pending execution has not started: it is cancelled at once and the worker will skip it. A
    // running one is marked; its worker stops between operations (cancel) or ends the running
    // script at once (force-cancel, kill), then writes `cancelled`.
    const marking = { cancel: 'cancelling', 'force-cancel': 'force_cancelling', kill: 'kill_cancelling' }[
      action
    ];
    const { rows } = await ctx.db.query<ExecutionRow>(
      `UPDATE executions SET
         status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE $2 END,
         ended_at = CASE WHEN status = 'pending' THEN now() ELSE ended_at END
       WHERE id = $1 AND status = ANY($3) RETURNING *`,
      [execution.id, marking, ACTIVE_STATUSES],
    );
    if (!rows[0]) throw conflict(`execution ${execution.id} finished while being cancelled`);
    return executionItem(rows[0]);
  });

  app.get('/events', async (request) =>
    listResources(ctx.db, eventList, caller(request).tenant, request.query as Query),
  );
}
