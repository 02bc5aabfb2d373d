/**
 * Executions and their events. Starting one records it `pending` and queues it (publisher confirms);
 * the worker takes it from there. Cancelling marks it; the worker stops between steps.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { EXECUTIONS_QUEUE } from '../../broker/queue.ts';
import type { AppContext } from '../../context.ts';
import { ApiError, badParameters, conflict, notFound } from '../errors.ts';
import { includeFields, includeFrom, listResources, type Query } from '../listing.ts';
import {
  ACTIVE_STATUSES,
  type ExecutionRow,
  eventList,
  executionItem,
  executionList,
  WORKFLOWS,
} from '../resources.ts';
import { parseBody } from '../validate.ts';
import { caller } from './request.ts';

const startSchema = z
  .object({
    deployment_id: z.string().min(1, 'is required'),
    workflow_id: z.string().min(1, 'is required'),
    parameters: z.record(z.string(), z.unknown()).nullable().optional(),
    force: z.boolean().optional(),
    dry_run: z.boolean().optional(),
  })
  .loose();

const actionSchema = z.object({ action: z.enum(['cancel', 'force-cancel', 'kill']) }).loose();

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
    if (body.dry_run) throw badParameters('dry_run executions are not supported');
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
      if (running.rows[0] && !body.force) {
        throw new ApiError(
          400,
          'existing_running_execution_error',
          `deployment '${body.deployment_id}' already has a running execution (${running.rows[0].id})`,
        );
      }
      const { rows } = await client.query<ExecutionRow>(
        `INSERT INTO executions (id, tenant, deployment_id, blueprint_id, workflow_id, parameters, status, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7) RETURNING *`,
        [
          id,
          tenant,
          body.deployment_id,
          deployment.rows[0].blueprint_id,
          body.workflow_id,
          JSON.stringify(body.parameters ?? {}),
          principal.username,
        ],
      );
      return rows[0]!;
    });
    try {
      await ctx.queue.publish(EXECUTIONS_QUEUE, { execution_id: id });
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
    const { rows } = await ctx.db.query<ExecutionRow>(
      'SELECT * FROM executions WHERE tenant = $1 AND id = $2',
      [tenant, id],
    );
    if (!rows[0]) throw notFound(`execution '${id}' not found`);
    return rows[0];
  };

  app.get<{ Params: { id: string } }>('/executions/:id', async (request) =>
    includeFields(
      executionItem(await find(caller(request).tenant, request.params.id)),
      includeFrom(request.query as Query),
    ),
  );

  app.post<{ Params: { id: string } }>('/executions/:id', async (request) => {
    const { tenant } = caller(request);
    const { action } = parseBody(actionSchema, request.body);
    const execution = await find(tenant, request.params.id);
    if (!ACTIVE_STATUSES.includes(execution.status)) {
      throw conflict(
        `execution ${execution.id} is already ${execution.status}; only a running execution can be cancelled`,
      );
    }
    // A pending execution has not started: it is cancelled at once and the worker will skip it.
    const { rows } = await ctx.db.query<ExecutionRow>(
      `UPDATE executions SET
         status = CASE WHEN status = 'pending' OR $2 THEN 'cancelled' ELSE 'cancelling' END,
         ended_at = CASE WHEN status = 'pending' OR $2 THEN now() ELSE ended_at END
       WHERE id = $1 AND status = ANY($3) RETURNING *`,
      [execution.id, action !== 'cancel', ACTIVE_STATUSES],
    );
    if (!rows[0]) throw conflict(`execution ${execution.id} finished while being cancelled`);
    return executionItem(rows[0]);
  });

  app.get('/events', async (request) =>
    listResources(ctx.db, eventList, caller(request).tenant, request.query as Query),
  );
}
