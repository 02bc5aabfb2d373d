/**
 * The workflow worker: takes an execution from the queue, walks its steps, records one event per
 * lifecycle operation, and acknowledges the message only after its last database commit. A message
 * delivered twice changes nothing: each step's event is keyed, and finished executions are skipped.
 */
import type amqp from 'amqplib';
import { ApiError } from '../api/errors.ts';
import type { ExecutionRow } from '../api/resources.ts';
import type { BlueprintPlan } from '../blueprints/blueprint.ts';
import { EXECUTIONS_QUEUE, type Queue } from '../broker/queue.ts';
import type { Logger } from '../log.ts';
import { type Database, isConnectionError, type Queryable } from '../storage/db.ts';
import { type Step, workflowSteps } from './workflow.ts';

export interface ExecutionMessage {
  execution_id: string;
}

const TERMINAL = new Set(['terminated', 'failed', 'cancelled']);

/** Records an event once: the step key makes a second attempt (a redelivery) a no-op. */
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
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (execution_id, step_key) DO NOTHING`,
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
  private readonly queue: Queue;
  private readonly log: Logger;
  private readonly stepDelayMs: number;
  active = 0;

  constructor(db: Database, queue: Queue, log: Logger, stepDelayMs: number) {
    this.db = db;
    this.queue = queue;
    this.log = log;
    this.stepDelayMs = stepDelayMs;
  }

  async start(): Promise<void> {
    await this.queue.consume(EXECUTIONS_QUEUE, 4, (message, channel) => this.handle(message, channel));
  }

  private async handle(message: amqp.ConsumeMessage, channel: amqp.Channel): Promise<void> {
    let channelClosed = false;
    const onClose = () => {
      channelClosed = true;
    };
    channel.once('close', onClose);
    this.active++;
    try {
      let parsed: ExecutionMessage;
      try {
        parsed = JSON.parse(message.content.toString()) as ExecutionMessage;
        if (typeof parsed.execution_id !== 'string') throw new Error('no execution_id');
      } catch {
        this.log.warn('dropping a malformed execution message');
        channel.ack(message);
        return;
      }
      const outcome = await this.run(parsed.execution_id, () => channelClosed).catch(
        async (error: unknown) => {
          if (isConnectionError(error) || (error instanceof ApiError && error.status === 503)) {
            // The database is away: leave the message to be redelivered once it is back.
            await new Promise((resolve) => setTimeout(resolve, 1_000));
            return 'retry' as const;
          }
          await this.fail(parsed.execution_id, error).catch(() => {});
          return 'done' as const;
        },
      );
      if (channelClosed) return; // the broker redelivers it; the redelivery resumes where this stopped
      if (outcome === 'done') channel.ack(message);
      else channel.nack(message, false, true);
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
    if (execution.status === 'cancelling') return this.cancel(executionId);

    await this.db.query(
      "UPDATE executions SET status = 'started', started_at = coalesce(started_at, now()) WHERE id = $1 AND status = 'pending'",
      [executionId],
    );
    await recordEvent(
      this.db,
      executionId,
      'workflow:started',
      'workflow_started',
      `Starting '${execution.workflow_id}' workflow execution`,
    );

    const blueprint = await this.db.query<{ plan: BlueprintPlan }>(
      'SELECT plan FROM blueprints WHERE tenant = $1 AND id = $2',
      [execution.tenant, execution.blueprint_id],
    );
    const instances = await this.db.query<{ id: string; node_id: string }>(
      'SELECT id, node_id FROM node_instances WHERE tenant = $1 AND deployment_id = $2',
      [execution.tenant, execution.deployment_id],
    );
    const steps = workflowSteps(execution.workflow_id, blueprint.rows[0]!.plan, instances.rows);
    const done = new Set(
      (
        await this.db.query<{ step_key: string }>('SELECT step_key FROM events WHERE execution_id = $1', [
          executionId,
        ])
      ).rows.map((row) => row.step_key),
    );

    for (const step of steps) {
      if (done.has(step.key)) continue;
      if (stopped()) return 'retry';
      const status = await this.db.query<{ status: string }>('SELECT status FROM executions WHERE id = $1', [
        executionId,
      ]);
      if (status.rows[0]?.status === 'cancelling') return this.cancel(executionId);
      if (this.stepDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.stepDelayMs));
      await this.db.transaction(async (client) => {
        await recordEvent(
          client,
          executionId,
          step.key,
          'operation_succeeded',
          `'${step.operation}' on ${step.nodeInstanceId} succeeded`,
          step,
        );
        await client.query('UPDATE node_instances SET state = $1 WHERE tenant = $2 AND id = $3', [
          step.state,
          execution.tenant,
          step.nodeInstanceId,
        ]);
      });
    }

    await this.db.transaction(async (client) => {
      await recordEvent(
        client,
        executionId,
        'workflow:succeeded',
        'workflow_succeeded',
        `'${execution.workflow_id}' workflow execution succeeded`,
      );
      await client.query(
        "UPDATE executions SET status = 'terminated', ended_at = now() WHERE id = $1 AND status IN ('pending', 'started')",
        [executionId],
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
