/**
 * The steps of a workflow, in Cloudify's order. install walks the node templates so every
 * relationship target comes first, and on each instance runs create, the relationships'
 * preconfigure, configure, their postconfigure, start, their establish. uninstall walks them in
 * reverse: stop, the relationships' unlink, delete. Lifecycle steps exist whether or not the
 * blueprint implements them (the instance's state moves on); relationship steps exist only where
 * an operation is written. Each step has a key, unique within an execution, that makes recording
 * it idempotent. `node_ids`, `node_instance_ids` and `type_names` narrow a run to the instances
 * that match every one given, as Cloudify's do (a relationship operation runs with its source).
 */

import type { WorkflowId } from '../api/resources.ts';
import type { BlueprintPlan } from '../blueprints/blueprint.ts';
import { LIFECYCLE, type OperationSpec, RELATIONSHIP_LIFECYCLE } from '../blueprints/operations.ts';

export interface RelationshipSide {
  /** Index of the relationship in the source node's list. */
  index: number;
  source: string;
  target: string;
  /** Which end's operation this is. */
  side: 'source' | 'target';
}

export interface Step {
  key: string;
  nodeId: string;
  nodeInstanceId: string;
  operation: string;
  /** The node instance's state once the operation is done (lifecycle steps only). */
  state?: string;
  /** The script to run; none: nothing to run, the step only records its passage. */
  spec?: OperationSpec;
  relationship?: RelationshipSide;
}

/** The parameters that narrow install and uninstall to some instances (each unset: no narrowing). */
export interface WorkflowScope {
  node_ids?: readonly string[];
  node_instance_ids?: readonly string[];
  type_names?: readonly string[];
}
export const SCOPE_PARAMETERS = ['node_ids', 'node_instance_ids', 'type_names'] as const;

/**
 * The scope an execution's parameters give, or the problem with them: each a list of names, and
 * each name one the deployment has (a node, a node instance, or a node's type).
 */
export function workflowScope(
  parameters: Record<string, unknown>,
  plan: Pick<BlueprintPlan, 'nodes'>,
  instances: readonly { id: string; node_id: string }[],
): WorkflowScope {
  const known: Record<(typeof SCOPE_PARAMETERS)[number], Set<string>> = {
    node_ids: new Set(Object.keys(plan.nodes)),
    node_instance_ids: new Set(instances.map((instance) => instance.id)),
    type_names: new Set(Object.values(plan.nodes).map((node) => node.type)),
  };
  const scope: WorkflowScope = {};
  for (const name of SCOPE_PARAMETERS) {
    const value = parameters[name];
    if (value === undefined || value === null) continue;
    if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
      throw new ScopeError(`${name} must be a list of names`);
    }
    const unknown = value.filter((item) => !known[name].has(item));
    if (unknown.length > 0) {
      throw new ScopeError(
        `${name}: ${unknown.join(', ')} not in this deployment (it has ${[...known[name]].join(', ')})`,
      );
    }
    // An empty list narrows nothing, as in Cloudify.
    if (value.length > 0) scope[name] = value as string[];
  }
  return scope;
}

export class ScopeError extends Error {}

type Phase = readonly [kind: 'node', op: string, state: string] | readonly [kind: 'relationship', op: string];

const PHASES: Record<WorkflowId, readonly Phase[]> = {
  install: [
    ['node', 'create', 'created'],
    ['relationship', 'preconfigure'],
    ['node', 'configure', 'configured'],
    ['relationship', 'postconfigure'],
    ['node', 'start', 'started'],
    ['relationship', 'establish'],
  ],
  uninstall: [
    ['node', 'stop', 'stopped'],
    ['relationship', 'unlink'],
    ['node', 'delete', 'deleted'],
  ],
};

export function workflowSteps(
  workflow: WorkflowId,
  plan: Pick<BlueprintPlan, 'installOrder' | 'nodes'>,
  instances: readonly { id: string; node_id: string }[],
  scope: WorkflowScope = {},
): Step[] {
  const inScope = (nodeId: string, instanceId: string) =>
    (!scope.node_ids || scope.node_ids.includes(nodeId)) &&
    (!scope.node_instance_ids || scope.node_instance_ids.includes(instanceId)) &&
    (!scope.type_names || scope.type_names.includes(plan.nodes[nodeId]?.type ?? ''));
  const order = workflow === 'install' ? plan.installOrder : [...plan.installOrder].reverse();
  const instanceOf = (node: string) => instances.find((instance) => instance.node_id === node)?.id ?? node;
  const steps: Step[] = [];
  for (const nodeId of order) {
    const node = plan.nodes[nodeId];
    const nodeInstances = instances
      .filter((instance) => instance.node_id === nodeId && inScope(nodeId, instance.id))
      .sort((a, b) => a.id.localeCompare(b.id));
    for (const instance of nodeInstances) {
      for (const phase of PHASES[workflow]) {
        if (phase[0] === 'node') {
          const [, op, state] = phase;
          const spec = node?.operations?.[op];
          steps.push({
            key: `${instance.id}:${op}`,
            nodeId,
            nodeInstanceId: instance.id,
            operation: `${LIFECYCLE}.${op}`,
            state,
            ...(spec ? { spec } : {}),
          });
          continue;
        }
        const op = phase[1];
        (node?.relationships ?? []).forEach((relationship, index) => {
          for (const side of ['source', 'target'] as const) {
            const spec = (
              side === 'source' ? relationship.source_operations : relationship.target_operations
            )[op];
            if (!spec) continue;
            const onNode = side === 'source' ? nodeId : relationship.target;
            steps.push({
              key: `${instance.id}:rel${index}:${side}:${op}`,
              nodeId: onNode,
              nodeInstanceId: side === 'source' ? instance.id : instanceOf(relationship.target),
              operation: `${RELATIONSHIP_LIFECYCLE}.${op}`,
              spec,
              relationship: { index, source: nodeId, target: relationship.target, side },
            });
          }
        });
      }
    }
  }
  return steps;
}
