/**
 * One operation of a workflow, run for real: its inputs evaluated (intrinsic functions against the
 * live runtime properties), its script run by script-runner.ts with `ctx` answered here, its output
 * recorded as events, and retried as the blueprint (or the execution's task_retries /
 * task_retry_interval) says. Force-cancel and kill end the running script at once.
 */

import { sleep } from '@cosmo/wait';
import type { ExecutionRow } from '../api/resources.ts';
import type { BlueprintPlan } from '../blueprints/blueprint.ts';
import { callsOf, evaluate, type Scope, secretKeys, type Values } from '../blueprints/functions.ts';
import type { ManagerConfig } from '../config.ts';
import { redact } from '../secrets/redact.ts';
import type { Secrets } from '../secrets/store.ts';
import type { Database } from '../storage/db.ts';
import { runScript } from './script-runner.ts';
import type { Step } from './workflow.ts';

export class OperationFailed extends Error {}

/** Records an event (keyed: a second attempt is a no-op) unless the execution has ended. */
export type Recorder = (key: string, type: string, message: string, step?: Step) => Promise<void>;

export interface OperationRun {
  db: Database;
  secrets: Secrets;
  config: ManagerConfig['operations'];
  execution: ExecutionRow;
  plan: BlueprintPlan;
  inputs: Record<string, unknown>;
  /** The node instance of each node template (one per node). */
  instanceOf: Record<string, string>;
  step: Step;
  record: Recorder;
  /** The execution's status now (to see a cancel while the script runs or waits to retry). */
  status(): Promise<string | undefined>;
}

const MAX_LINES_PER_TRY = 1000;
/**
 * Runs of one operation cut short by their worker's death before it is not started again: an
 * operation that makes its manager die (memory, a ctx flood) would otherwise kill the next manager
 * its redelivered execution reaches, and the next.
 */
export const MAX_INTERRUPTED_RUNS = 3;
const LEVELS = new Set(['debug', 'info', 'warning', 'warn', 'error']);

function parameter(parameters: Record<string, unknown>, name: string): number | undefined {
  const value = parameters[name];
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** `a.b` or `a b` after a command: the path into a mapping. */
function keyPath(args: string[]): string[] {
  return args.flatMap((arg) => arg.split('.')).filter(Boolean);
}

function dig(value: unknown, keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

async function runtimeProperties(db: Database, tenant: string, deployment: string) {
  const { rows } = await db.read<{ node_id: string; runtime_properties: Record<string, unknown> }>(
    'SELECT node_id, runtime_properties FROM node_instances WHERE tenant = $1 AND deployment_id = $2',
    [tenant, deployment],
  );
  return Object.fromEntries(rows.map((row) => [row.node_id, row.runtime_properties]));
}

/**
 * What functions read: the deployment's inputs, the plan's properties, runtime properties as now, and
 * the secrets the plan names (read once, opened when asked for). What get_secret produced is noted
 * in `revealed`, to be redacted from what is recorded or shown.
 */
export async function liveValues(
  db: Database,
  secrets: Secrets,
  tenant: string,
  deployment: string,
  plan: BlueprintPlan,
  inputs: Record<string, unknown>,
  revealed = new Set<string>(),
): Promise<Values & { revealed: Set<string> }> {
  const [runtime, secret, system] = await Promise.all([
    runtimeProperties(db, tenant, deployment),
    secrets.reader(tenant, secretKeys(plan)),
    callsOf(plan, 'get_sys').length > 0 ? systemValues(db, tenant, deployment) : undefined,
  ]);
  return {
    inputs,
    properties: (node) => plan.nodes[node]?.properties ?? {},
    runtime: (node) => runtime[node] ?? {},
    secret,
    ...(system ? { system } : {}),
    revealed,
  };
}

/** What get_sys reads of a deployment: its tenant, id, display name, blueprint and owner. */
async function systemValues(db: Database, tenant: string, deployment: string): Promise<Values['system']> {
  const { rows } = await db.read<{ display_name: string | null; blueprint_id: string; created_by: string }>(
    'SELECT display_name, blueprint_id, created_by FROM deployments WHERE tenant = $1 AND id = $2',
    [tenant, deployment],
  );
  const row = rows[0];
  return {
    'tenant.name': tenant,
    'deployment.id': deployment,
    ...(row
      ? {
          'deployment.name': row.display_name ?? deployment,
          'deployment.blueprint': row.blueprint_id,
          'deployment.owner': row.created_by,
        }
      : {}),
  };
}

/**
 * The script as stored with the blueprint now. Read at each run, never cached: a blueprint deleted and
 * uploaded again under the same id must never run its old code (one indexed read per operation).
 */
async function scriptContent(db: Database, execution: ExecutionRow, file: string): Promise<Buffer> {
  const { rows } = await db.query<{ content: Buffer }>(
    'SELECT content FROM blueprint_files WHERE tenant = $1 AND blueprint_id = $2 AND path = $3',
    [execution.tenant, execution.blueprint_id, file],
  );
  if (!rows[0])
    throw new OperationFailed(`the script ${file} is not stored with blueprint ${execution.blueprint_id}`);
  return rows[0].content;
}

/** What the operation's functions read, noting the secrets they give in `revealed`. */
const runValues = (run: OperationRun, revealed: Set<string>) =>
  liveValues(
    run.db,
    run.secrets,
    run.execution.tenant,
    run.execution.deployment_id,
    run.plan,
    run.inputs,
    revealed,
  );

/** The answer to one `ctx …` call of the operation's script. */
function ctxHandler(
  run: OperationRun,
  scope: Scope,
  log: (level: string, text: string) => Promise<void>,
  revealed: Set<string>,
) {
  const { db, execution, step } = run;
  // A secret read through `ctx node properties` is kept out of the logs as the inputs' are.
  const properties = async (node: string) =>
    evaluate(run.plan.nodes[node]?.properties ?? {}, { self: node }, await runValues(run, revealed));
  const runtime = async (instance: string) => {
    const { rows } = await db.query<{ runtime_properties: Record<string, unknown> }>(
      'SELECT runtime_properties FROM node_instances WHERE tenant = $1 AND id = $2',
      [execution.tenant, instance],
    );
    return rows[0]?.runtime_properties ?? {};
  };
  const entity = async (node: string, args: string[]): Promise<unknown> => {
    const instance = run.instanceOf[node] ?? node;
    const [what, sub, ...rest] = args;
    if (what === 'node') {
      if (sub === 'id' || sub === 'name') return node;
      if (sub === 'type') return run.plan.nodes[node]?.type;
      if (sub === 'properties') return dig(await properties(node), keyPath(rest));
    }
    if (what === 'instance') {
      if (sub === 'id') return instance;
      if (sub === 'runtime-properties' || sub === 'runtime_properties') {
        const [key, value] = rest;
        if (key === undefined) return runtime(instance);
        if (value === undefined) return dig(await runtime(instance), keyPath([key]));
        // Kept at once, on the node instance: a later operation (or an output) reads it there.
        await db.query(
          `UPDATE node_instances SET runtime_properties = runtime_properties || jsonb_build_object($3::text, $4::text)
           WHERE tenant = $1 AND id = $2`,
          [execution.tenant, instance, key, value],
        );
        return null;
      }
    }
    throw new Error(`unknown ctx command: ${args.join(' ')}`);
  };
  return async (args: string[]): Promise<unknown> => {
    const [first, ...rest] = args;
    switch (first) {
      case 'logger': {
        const [level = '', ...words] = rest;
        if (!LEVELS.has(level)) throw new Error(`ctx logger: level must be one of ${[...LEVELS].join(', ')}`);
        await log(level === 'warn' ? 'warning' : level, words.join(' '));
        return null;
      }
      case 'deployment':
        if (rest[0] === 'id') return execution.deployment_id;
        break;
      case 'execution-id':
      case 'execution_id':
        return execution.id;
      case 'workflow-id':
      case 'workflow_id':
        return execution.workflow_id;
      case 'operation':
        if (rest[0] === 'name') return step.operation;
        break;
      case 'node':
      case 'instance':
        if (!scope.self)
          throw new Error(
            `ctx ${first}: in a relationship operation, use ctx source ${first} or ctx target ${first}`,
          );
        return entity(scope.self, args);
      case 'source':
      case 'target': {
        const node = first === 'source' ? scope.source : scope.target;
        if (!node)
          throw new Error(
            `ctx ${first}: only in a relationship operation (here, use ctx node / ctx instance)`,
          );
        return entity(node, rest);
      }
    }
    throw new Error(`unknown ctx command: ${args.join(' ') || '(none)'}`);
  };
}

/** Runs the step's script until it succeeds, the tries run out (OperationFailed) or a cancel comes. */
export async function runOperation(run: OperationRun): Promise<'succeeded' | 'cancelled'> {
  const { db, execution, step, record } = run;
  const spec = step.spec!;
  const tries = (spec.maxRetries ?? parameter(execution.parameters, 'task_retries') ?? 0) + 1;
  const interval = spec.retryInterval ?? parameter(execution.parameters, 'task_retry_interval') ?? 15;
  const timeout = spec.timeout ?? run.config.timeoutSeconds;
  const scope: Scope = step.relationship
    ? { source: step.relationship.source, target: step.relationship.target }
    : { self: step.nodeId };
  const what = `'${step.operation}' on ${step.nodeInstanceId}`;
  // A redelivered execution (its worker died) goes on with the next try number: no key is reused.
  // A try that started and neither succeeded nor failed was interrupted: its worker died under it.
  const { rows } = await db.query<{ started: string; failed: string }>(
    `SELECT count(*) FILTER (WHERE step_key LIKE $2 || ':try%:started') AS started,
            count(*) FILTER (WHERE step_key LIKE $2 || ':try%:failed') AS failed
     FROM events WHERE execution_id = $1`,
    [execution.id, step.key],
  );
  const first = Number(rows[0]?.started ?? 0);
  const interrupted = first - Number(rows[0]?.failed ?? 0);
  if (interrupted >= MAX_INTERRUPTED_RUNS) {
    // Not OperationFailed: ignore_failure does not go past an operation that kills its workers.
    throw new Error(
      `${what} was interrupted ${interrupted} times: the worker running it died each time (killed for memory, or the manager stopped); not run again`,
    );
  }
  if (run.config.uidBase > 0 && run.config.egress !== 'confined') {
    // Scripts would reach PostgreSQL, RabbitMQ, etcd and Patroni: run none rather than run them open.
    throw new OperationFailed(
      `${what}: this manager does not run scripts: its container could not close the platform's back ends to them (cosmo-script-egress needs the NET_ADMIN and SETPCAP capabilities; see the container's log)`,
    );
  }
  const content = await scriptContent(db, execution, spec.script);

  for (let n = first; ; n++) {
    const attempt = n - first + 1;
    const prefix = `${step.key}:try${n}`;
    // `run` counts every start of this operation in the execution, a redelivered one's too.
    await record(
      `${prefix}:started`,
      'task_started',
      `Running ${spec.script} for ${what} (run ${n + 1}; try ${attempt} of ${tries})`,
      step,
    );
    let lineCount = 0;
    let chain = Promise.resolve();
    // The secrets this try's inputs hold: a script that prints one logs REDACTED instead.
    const revealed = new Set<string>();
    const log = (level: string, text: string) => {
      lineCount++;
      const index = lineCount;
      if (index > MAX_LINES_PER_TRY) return chain;
      const message =
        index === MAX_LINES_PER_TRY
          ? `(output beyond ${MAX_LINES_PER_TRY} lines is not recorded)`
          : redact(text, revealed);
      chain = chain
        .then(() => record(`${prefix}:log${index}`, `log:${level}`, message, step))
        .catch(() => {});
      return chain;
    };

    let env: Record<string, string>;
    try {
      const inputs = evaluate(spec.inputs, scope, await runValues(run, revealed)) as Record<string, unknown>;
      env = { PATH: run.config.path, LANG: 'C.UTF-8' };
      for (const [name, value] of Object.entries(inputs)) {
        env[name] = typeof value === 'string' ? value : JSON.stringify(value);
      }
    } catch (error) {
      throw new OperationFailed(`${what}: its inputs cannot be evaluated: ${(error as Error).message}`);
    }

    const running = await runScript({
      name: spec.script,
      content,
      env,
      timeoutSeconds: timeout,
      baseDir: run.config.dir,
      uidBase: run.config.uidBase,
      ctx: ctxHandler(run, scope, log, revealed),
      onLine: (line, stream) => void log(stream === 'stderr' ? 'warning' : 'info', line),
    });
    const watch = setInterval(async () => {
      const status = await run.status().catch(() => undefined);
      if (status === 'force_cancelling' || status === 'kill_cancelling') running.kill();
    }, 500);
    const result = await running.done.finally(() => clearInterval(watch));
    await chain;
    if (result.killed) return 'cancelled';
    if (result.exitCode === 0 && !result.timedOut) return 'succeeded';

    const how = result.timedOut
      ? `timed out after ${timeout} s`
      : result.exitCode !== null
        ? `exit code ${result.exitCode}`
        : `ended by signal ${result.signal}`;
    const tail = result.lastLines.length
      ? `; last output: ${redact(result.lastLines.slice(-5).join(' | '), revealed)}`
      : '';
    const failure = `${spec.script} (${what} of node ${step.nodeId}) failed: ${how}${tail}`;
    await record(`${prefix}:failed`, 'task_failed', `${failure} (try ${attempt} of ${tries})`, step);
    if (attempt >= tries) throw new OperationFailed(failure);
    // Wait before the next try, watching for a cancel.
    const until = Date.now() + interval * 1000;
    while (Date.now() < until) {
      const status = await run.status();
      if (status && status !== 'started' && status !== 'pending') return 'cancelled';
      await sleep(Math.min(500, until - Date.now()));
    }
    await record(`${prefix}:retry`, 'task_rescheduled', `${what}: trying again after ${interval} s`, step);
  }
}
