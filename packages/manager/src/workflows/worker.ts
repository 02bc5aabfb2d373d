/**
 * The workflow worker: takes an execution from the queue, walks its steps, runs each operation's
 * script (operation.ts), records the events, and acknowledges the message only after its last
 * database commit. Every manager runs one, all consuming the same queue: when a worker dies, the
 * broker redelivers its executions to another, which goes on from the step that was interrupted
 * (that operation runs again, as in Cloudify). A message delivered twice changes nothing else: each
 * event is keyed, and finished executions are skipped.
 */

import { sleep, waitFor } from '@cosmo/wait';
import type amqp from 'amqplib';
import { ApiError } from '../api/errors.ts';
import { CANCELLING_STATUSES, type ExecutionRow, TERMINAL_STATUSES } from '../api/resources.ts';
import type { BlueprintPlan } from '../blueprints/blueprint.ts';
import { type BrokerClient, DEAD_EXECUTIONS_QUEUE, EXECUTIONS_QUEUE } from '../broker/client.ts';
import type { ManagerConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Secrets } from '../secrets/store.ts';
import { type Database, isConnectionError, type Queryable } from '../storage/db.ts';
import { OperationFailed, runOperation } from './operation.ts';
import { type Step, workflowScope, workflowSteps } from './workflow.ts';

export interface ExecutionMessage {
  execution_id: string;
}

const TERMINAL = new Set<string>(TERMINAL_STATUSES);

/** The database cannot be reached (or has no primary now): worth trying again, not a failure. */
const databaseAway = (error: unknown) =>
  isConnectionError(error) || (error instanceof ApiError && error.status === 503);

/**
 * Records an event once (the key makes a second attempt, a redelivery, a no-op), and never once
 * the execution has ended: nothing is written after `cancelled`. An execution's last event is
 * written in the transaction that ends it, before its status changes.
 */
async function recordEvent(
  db: Queryable,
  executionId: string,
  key: string,
  type: string,
  text: string,
  step?: Step,
): Promise<void> {
  await db.query(
    `INSERT INTO events (execution_id, step_key, event_type, message, node_id, node_instance_id, operation)
     SELECT $1, $2, $3, $4, $5, $6, $7 FROM executions
     WHERE id = $1 AND status NOT IN ('terminated', 'failed', 'cancelled')
     ON CONFLICT (execution_id, step_key) DO NOTHING`,
    [
      executionId,
      key,
      type,
      text,
      step?.nodeId ?? null,
      step?.nodeInstanceId ?? null,
      step?.operation ?? null,
    ],
  );
}

export class Worker {
  private readonly db: Database;
  private readonly secrets: Secrets;
  private readonly broker: BrokerClient;
  private readonly log: Logger;
  private readonly config: ManagerConfig;
  active = 0;

  constructor(db: Database, secrets: Secrets, broker: BrokerClient, log: Logger, config: ManagerConfig) {
    this.db = db;
    this.secrets = secrets;
    this.broker = broker;
    this.log = log;
    this.config = config;
  }

  async start(): Promise<void> {
    await this.broker.consume(EXECUTIONS_QUEUE, 4, (message, channel) => this.handle(message, channel));
    await this.broker.consume(DEAD_EXECUTIONS_QUEUE, 1, (message, channel) =>
      this.handleDead(message, channel),
    );
  }

  /** Reads an execution message; a malformed one is acknowledged (dropped) with a warning. */
  private parse(message: amqp.ConsumeMessage, channel: amqp.Channel): ExecutionMessage | undefined {
    try {
      const parsed = JSON.parse(message.content.toString()) as ExecutionMessage;
      if (typeof parsed.execution_id !== 'string') throw new Error('no execution_id');
      return parsed;
    } catch {
      this.log.warn('dropping a malformed execution message');
      channel.ack(message);
      return undefined;
    }
  }

  /**
   * An execution whose message the broker dead-lettered: the workers that took it died each time
   * (its delivery limit is spent). It ends failed, with that reason, instead of killing the next one.
   */
  private async handleDead(message: amqp.ConsumeMessage, channel: amqp.Channel): Promise<void> {
    const parsed = this.parse(message, channel);
    if (!parsed) return;
    const deliveries = Number(message.properties.headers?.['x-delivery-count'] ?? 0);
    const reason = `its message was taken by a worker ${deliveries > 0 ? `${deliveries} times` : 'repeatedly'} and the worker died each time (the broker's delivery limit is spent); not run again`;
    await waitFor(
      `execution ${parsed.execution_id} to be failed`,
      async () => {
        await this.fail(parsed.execution_id, new Error(reason));
        return true;
      },
      { delayMs: 1_000, onError: (error) => (databaseAway(error) ? 'retry' : 'throw') },
    );
    channel.ack(message);
  }

  private async handle(message: amqp.ConsumeMessage, channel: amqp.Channel): Promise<void> {
    let channelClosed = false;
    const onClose = () => {
      channelClosed = true;
    };
    channel.once('close', onClose);
    this.active++;
    try {
      const parsed = this.parse(message, channel);
      if (!parsed) return;
      // One worker at a time per execution: a redelivery (the broker lost this consumer, not its
      // manager) waits here until the first run ends, then finds the execution finished. While the
      // database is away the message stays with this worker, unacknowledged, and is tried again each
      // second: a requeue would spend the broker's delivery count, kept for workers that die.
      await waitFor(
        `execution ${parsed.execution_id} to run`,
        async () => {
          const outcome = await this.db
            .withLock(`execution:${parsed.execution_id}`, () =>
              this.run(parsed.execution_id, () => channelClosed),
            )
            .catch(async (error: unknown) => {
              if (databaseAway(error)) return 'retry' as const;
              await this.fail(parsed.execution_id, error).catch(() => {});
              return 'done' as const;
            });
          return outcome === 'done' || channelClosed ? outcome : undefined;
        },
        { delayMs: 1_000 },
      );
      if (channelClosed) return; // the broker redelivers it; the redelivery resumes where this stopped
      channel.ack(message);
    } finally {
      this.active--;
      channel.removeListener('close', onClose);
    }
  }

  /** Runs (or resumes) an execution; 'done' once it is in a final state, 'retry' to see it again. */
  private async run(executionId: string, stopped: () => boolean): Promise<'done' | 'retry'> {
    const { rows } = await this.db.query<ExecutionRow>('SELECT * FROM executions WHERE id = $1', [
      executionId,
    ]);
    const execution = rows[0];
    if (!execution) {
      this.log.warn(`execution ${executionId} not found; dropping its message`);
      return 'done';
    }
    if (TERMINAL.has(execution.status)) return 'done';
    if (CANCELLING_STATUSES.includes(execution.status)) return this.cancel(executionId);

    await this.db.query(
      "UPDATE executions SET status = CASE WHEN status = 'pending' THEN 'started' ELSE status END, started_at = coalesce(started_at, now()), worker = $2 WHERE id = $1",
      [executionId, this.config.nodeName],
    );
    await recordEvent(
      this.db,
      executionId,
      'workflow:started',
      'workflow_started',
      `Starting '${execution.workflow_id}' workflow execution${execution.is_dry_run ? ' (dry run: no operation runs)' : ''}`,
    );

    const blueprint = await this.db.query<{ plan: BlueprintPlan }>(
      'SELECT plan FROM blueprints WHERE tenant = $1 AND id = $2',
      [execution.tenant, execution.blueprint_id],
    );
    const deployment = await this.db.query<{ inputs: Record<string, unknown> }>(
      'SELECT inputs FROM deployments WHERE tenant = $1 AND id = $2',
      [execution.tenant, execution.deployment_id],
    );
    const instances = await this.db.query<{ id: string; node_id: string }>(
      'SELECT id, node_id FROM node_instances WHERE tenant = $1 AND deployment_id = $2',
      [execution.tenant, execution.deployment_id],
    );
    const plan = blueprint.rows[0]!.plan;
    const steps = workflowSteps(
      execution.workflow_id,
      plan,
      instances.rows,
      workflowScope(execution.parameters, plan, instances.rows),
    );
    const instanceOf = Object.fromEntries(instances.rows.map((row) => [row.node_id, row.id]));
    const done = new Set(
      (
        await this.db.query<{ step_key: string }>('SELECT step_key FROM events WHERE execution_id = $1', [
          executionId,
        ])
      ).rows.map((row) => row.step_key),
    );
    const status = async () =>
      (await this.db.query<{ status: string }>('SELECT status FROM executions WHERE id = $1', [executionId]))
        .rows[0]?.status;
    const record = (key: string, type: string, text: string, step?: Step) =>
      recordEvent(this.db, executionId, key, type, text, step);
    const ignoreFailure = [true, 'true'].includes(execution.parameters.ignore_failure as boolean | string);

    for (const step of steps) {
      if (done.has(step.key)) continue;
      if (stopped()) return 'retry';
      const now = await status();
      if (now && CANCELLING_STATUSES.includes(now as ExecutionRow['status'])) return this.cancel(executionId);
      const what = `'${step.operation}' on ${step.nodeInstanceId}`;
      let message = `${what} succeeded`;
      if (execution.is_dry_run) {
        message = `${what}: dry run, ${step.spec ? `${step.spec.script} not run` : 'nothing to run'}`;
      } else if (!step.spec) {
        if (this.config.stepDelayMs > 0) await sleep(this.config.stepDelayMs);
        message = `${what}: no implementation, nothing to run`;
      } else {
        try {
          const outcome = await runOperation({
            db: this.db,
            secrets: this.secrets,
            config: this.config.operations,
            execution,
            plan,
            inputs: deployment.rows[0]?.inputs ?? {},
            instanceOf,
            step,
            record,
            status,
          });
          if (outcome === 'cancelled') return this.cancel(executionId);
        } catch (error) {
          if (!(error instanceof OperationFailed) || !ignoreFailure) throw error;
          message = `${what} failed and was ignored (ignore_failure): ${error.message}`;
        }
      }
      await this.db.transaction(async (client) => {
        await recordEvent(client, executionId, step.key, 'operation_succeeded', message, step);
        if (step.state && !execution.is_dry_run) {
          await client.query('UPDATE node_instances SET state = $1 WHERE tenant = $2 AND id = $3', [
            step.state,
            execution.tenant,
            step.nodeInstanceId,
          ]);
        }
      });
    }

    // A cancel that came as the last step ended still ends the execution, as cancelled.
    await this.db.transaction(async (client) => {
      const { rows: now } = await client.query<{ status: string }>(
        'SELECT status FROM executions WHERE id = $1 FOR UPDATE',
        [executionId],
      );
      const cancelled = CANCELLING_STATUSES.includes(now[0]?.status as ExecutionRow['status']);
      await recordEvent(
        client,
        executionId,
        cancelled ? 'workflow:cancelled' : 'workflow:succeeded',
        cancelled ? 'workflow_cancelled' : 'workflow_succeeded',
        cancelled ? 'Execution cancelled' : `'${execution.workflow_id}' workflow execution succeeded`,
      );
      await client.query(
        "UPDATE executions SET status = $2, ended_at = now() WHERE id = $1 AND status NOT IN ('terminated', 'failed', 'cancelled')",
        [executionId, cancelled ? 'cancelled' : 'terminated'],
      );
    });
    return 'done';
  }

  private async cancel(executionId: string): Promise<'done'> {
    await this.db.transaction(async (client) => {
      await recordEvent(
        client,
        executionId,
        'workflow:cancelled',
        'workflow_cancelled',
        'Execution cancelled',
      );
      await client.query(
        "UPDATE executions SET status = 'cancelled', ended_at = now() WHERE id = $1 AND status NOT IN ('terminated', 'failed', 'cancelled')",
        [executionId],
      );
    });
    return 'done';
  }

  private async fail(executionId: string, error: unknown): Promise<void> {
    const text = error instanceof Error ? error.message : String(error);
    this.log.error(`execution ${executionId} failed: ${text}`);
    await recordEvent(
      this.db,
      executionId,
      'workflow:failed',
      'workflow_failed',
      `Workflow execution failed: ${text}`,
    );
    await this.db.query(
      "UPDATE executions SET status = 'failed', error = $2, ended_at = now() WHERE id = $1 AND status NOT IN ('terminated', 'failed', 'cancelled')",
      [executionId, text],
    );
  }
}
