/**
 * Blueprints, deployments, executions and events as stored rows and as the API shows them.
 */
import type { BlueprintPlan } from '../blueprints/blueprint.ts';
import type { ListSpec } from './listing.ts';

const iso = (date: Date | null | undefined): string | null => (date ? date.toISOString() : null);

export interface BlueprintRow {
  tenant: string;
  id: string;
  main_file_name: string;
  description: string | null;
  plan: BlueprintPlan;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  upload_execution_id: string;
}

/**
 * The `upload_blueprint` execution of a blueprint, as Cloudify shows it (its client reads its id after
 * an upload): here the upload parses the blueprint before it answers, so it ended when it was stored.
 */
export const uploadExecutionItem = (row: BlueprintRow) => ({
  id: row.upload_execution_id,
  workflow_id: 'upload_blueprint',
  deployment_id: null,
  blueprint_id: row.id,
  status: 'terminated',
  status_display: 'completed',
  created_at: iso(row.created_at),
  started_at: iso(row.created_at),
  ended_at: iso(row.created_at),
  scheduled_for: null,
  error: '',
  parameters: {},
  tenant_name: row.tenant,
  created_by: row.created_by,
  is_dry_run: false,
  is_system_workflow: true,
  visibility: 'tenant',
});

export const blueprintItem = (row: BlueprintRow) => ({
  id: row.id,
  tenant_name: row.tenant,
  created_at: iso(row.created_at),
  updated_at: iso(row.updated_at),
  created_by: row.created_by,
  main_file_name: row.main_file_name,
  description: row.description,
  plan: row.plan,
  state: 'uploaded',
  error: null,
  upload_execution: uploadExecutionItem(row),
  visibility: 'tenant',
  labels: [] as unknown[],
});

export const blueprintList: ListSpec<BlueprintRow, ReturnType<typeof blueprintItem>> = {
  from: 'blueprints',
  scopeColumn: 'tenant',
  fields: {
    id: 'id',
    created_at: 'created_at',
    updated_at: 'updated_at',
    created_by: 'created_by',
    main_file_name: 'main_file_name',
  },
  filters: ['id', 'created_by'],
  defaultSort: 'created_at',
  toItem: blueprintItem,
  columns: [
    'tenant',
    'id',
    'main_file_name',
    'description',
    'plan',
    'created_by',
    'created_at',
    'updated_at',
    'upload_execution_id',
  ],
  heavy: { plan: 'plan' },
};

export interface DeploymentRow {
  tenant: string;
  id: string;
  blueprint_id: string;
  inputs: Record<string, unknown>;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  display_name: string | null;
  latest_execution_status?: string | null;
  /** The blueprint's output definitions (their values are at /deployments/<id>/outputs). */
  outputs?: Record<string, unknown> | null;
}

export const WORKFLOWS = ['install', 'uninstall'] as const;
export type WorkflowId = (typeof WORKFLOWS)[number];

export const deploymentItem = (row: DeploymentRow) => ({
  id: row.id,
  display_name: row.display_name ?? row.id,
  blueprint_id: row.blueprint_id,
  tenant_name: row.tenant,
  created_at: iso(row.created_at),
  updated_at: iso(row.updated_at),
  created_by: row.created_by,
  inputs: row.inputs,
  outputs: row.outputs ?? {},
  description: null,
  visibility: 'tenant',
  workflows: WORKFLOWS.map((name) => ({ name, parameters: {} })),
  latest_execution_status: row.latest_execution_status ?? null,
  labels: [] as unknown[],
});

const DEPLOYMENTS_FROM = `(SELECT d.*, (SELECT e.status FROM executions e WHERE e.tenant = d.tenant AND e.deployment_id = d.id
   ORDER BY e.created_at DESC LIMIT 1) AS latest_execution_status,
   (SELECT b.plan->'outputs' FROM blueprints b WHERE b.tenant = d.tenant AND b.id = d.blueprint_id) AS outputs
   FROM deployments d) AS deployments`;

export const deploymentList: ListSpec<DeploymentRow, ReturnType<typeof deploymentItem>> = {
  from: DEPLOYMENTS_FROM,
  scopeColumn: 'tenant',
  fields: {
    id: 'id',
    display_name: 'coalesce(display_name, id)',
    blueprint_id: 'blueprint_id',
    created_at: 'created_at',
    updated_at: 'updated_at',
    created_by: 'created_by',
  },
  filters: ['id', 'display_name', 'blueprint_id', 'created_by'],
  defaultSort: 'created_at',
  toItem: deploymentItem,
};

export const deploymentQuery = `SELECT * FROM ${DEPLOYMENTS_FROM} WHERE tenant = $1 AND id = $2`;

export const EXECUTION_STATUSES = [
  'pending',
  'started',
  'cancelling',
  'force_cancelling',
  'kill_cancelling',
  'terminated',
  'failed',
  'cancelled',
] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];
export const CANCELLING_STATUSES: readonly ExecutionStatus[] = [
  'cancelling',
  'force_cancelling',
  'kill_cancelling',
];
export const ACTIVE_STATUSES: readonly ExecutionStatus[] = ['pending', 'started', ...CANCELLING_STATUSES];
export const TERMINAL_STATUSES: readonly ExecutionStatus[] = ['terminated', 'failed', 'cancelled'];

export interface ExecutionRow {
  id: string;
  tenant: string;
  deployment_id: string;
  blueprint_id: string;
  workflow_id: WorkflowId;
  parameters: Record<string, unknown>;
  status: ExecutionStatus;
  error: string;
  created_by: string;
  created_at: Date;
  started_at: Date | null;
  ended_at: Date | null;
  is_dry_run: boolean;
  /** The manager whose worker ran it last. */
  worker: string | null;
}

export const executionItem = (row: ExecutionRow) => ({
  id: row.id,
  workflow_id: row.workflow_id,
  deployment_id: row.deployment_id,
  blueprint_id: row.blueprint_id,
  status: row.status,
  status_display: row.status === 'terminated' ? 'completed' : row.status,
  created_at: iso(row.created_at),
  started_at: iso(row.started_at),
  ended_at: iso(row.ended_at),
  // Cloudify can schedule an execution for later; here every one is queued when it is created.
  scheduled_for: null,
  error: row.error,
  parameters: row.parameters,
  tenant_name: row.tenant,
  created_by: row.created_by,
  is_dry_run: row.is_dry_run ?? false,
  is_system_workflow: false,
  visibility: 'tenant',
});

export const executionList: ListSpec<ExecutionRow, ReturnType<typeof executionItem>> = {
  from: 'executions',
  scopeColumn: 'tenant',
  fields: {
    id: 'id',
    deployment_id: 'deployment_id',
    blueprint_id: 'blueprint_id',
    workflow_id: 'workflow_id',
    status: 'status',
    created_at: 'created_at',
    started_at: 'started_at',
    ended_at: 'ended_at',
  },
  filters: ['id', 'deployment_id', 'blueprint_id', 'workflow_id', 'status'],
  defaultSort: 'created_at',
  toItem: executionItem,
};

export interface EventRow {
  id: string;
  execution_id: string;
  event_type: string;
  message: string;
  node_id: string | null;
  node_instance_id: string | null;
  operation: string | null;
  timestamp: Date;
  tenant: string;
  deployment_id: string;
  blueprint_id: string;
  workflow_id: string;
}

/** Log lines (an operation's output, `ctx logger`) are stored as `log:<level>`; Cloudify shows them as logs. */
const logLevel = (eventType: string) => (eventType.startsWith('log:') ? eventType.slice(4) : null);

export const eventItem = (row: EventRow) => ({
  timestamp: iso(row.timestamp),
  reported_timestamp: iso(row.timestamp),
  message: row.message,
  event_type: logLevel(row.event_type) ? null : row.event_type,
  type: logLevel(row.event_type) ? 'cloudify_log' : 'cloudify_event',
  level: logLevel(row.event_type),
  execution_id: row.execution_id,
  node_instance_id: row.node_instance_id,
  node_name: row.node_id,
  operation: row.operation,
  workflow_id: row.workflow_id,
  deployment_id: row.deployment_id,
  blueprint_id: row.blueprint_id,
  tenant_name: row.tenant,
  error_causes: null,
});

export const eventList: ListSpec<EventRow, ReturnType<typeof eventItem>> = {
  from: `(SELECT ev.*, ex.tenant, ex.deployment_id, ex.blueprint_id, ex.workflow_id
          FROM events ev JOIN executions ex ON ex.id = ev.execution_id) AS events`,
  scopeColumn: 'tenant',
  fields: {
    id: 'id',
    timestamp: 'timestamp',
    reported_timestamp: 'timestamp',
    '@timestamp': 'timestamp',
    execution_id: 'execution_id',
    deployment_id: 'deployment_id',
    event_type: 'event_type',
    node_name: 'node_id',
    type: "(CASE WHEN event_type LIKE 'log:%' THEN 'cloudify_log' ELSE 'cloudify_event' END)",
  },
  // Cloudify's client asks `type=cloudify_event` (and `type=cloudify_log` to include logs).
  filters: ['execution_id', 'deployment_id', 'event_type', 'node_name', 'type'],
  // Events of one millisecond keep the order of the steps whatever the sort.
  tieBreak: 'id',
  // id breaks ties between events of one millisecond, so the order is the order of the steps.
  defaultSort: 'id',
  toItem: eventItem,
};
