/**
 * The steps of a workflow, in Cloudify's order. install walks the node templates so every
 * relationship target comes first, and on each instance runs create, the relationships'
 * preconfigure, configure, their postconfigure, start, their establish. uninstall walks them in
 * reverse: stop, the relationships' unlink, delete. Lifecycle steps exist whether or not the
 * blueprint implements them (the instance's state moves on); relationship steps exist only where
 * an operation is written. Each step has a key, unique within an execution, that makes recording
 * it idempotent.
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
): Step[] {
  const order = workflow === 'install' ? plan.installOrder : [...plan.installOrder].reverse();
  const instanceOf = (node: string) => instances.find((instance) => instance.node_id === node)?.id ?? node;
  const steps: Step[] = [];
  for (const nodeId of order) {
    const node = plan.nodes[nodeId];
    const nodeInstances = instances
      .filter((instance) => instance.node_id === nodeId)
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
