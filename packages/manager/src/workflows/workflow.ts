/**
 * The steps of a workflow: install walks the node templates so every relationship target comes
 * first (create, configure, start on each); uninstall walks them in reverse (stop, delete).
 * Each step has a key, unique within an execution, that makes recording it idempotent.
 */

import type { WorkflowId } from '../api/resources.ts';
import type { BlueprintPlan } from '../blueprints/blueprint.ts';

export interface Step {
  key: string;
  nodeId: string;
  nodeInstanceId: string;
  operation: string;
  /** The node instance's state once the operation is done. */
  state: string;
}

const OPERATIONS: Record<WorkflowId, readonly (readonly [string, string])[]> = {
  install: [
    ['create', 'created'],
    ['configure', 'configured'],
    ['start', 'started'],
  ],
  uninstall: [
    ['stop', 'stopped'],
    ['delete', 'deleted'],
  ],
};

export function workflowSteps(
  workflow: WorkflowId,
  plan: Pick<BlueprintPlan, 'installOrder'>,
  instances: readonly { id: string; node_id: string }[],
): Step[] {
  const order = workflow === 'install' ? plan.installOrder : [...plan.installOrder].reverse();
  const steps: Step[] = [];
  for (const nodeId of order) {
    const nodeInstances = instances
      .filter((instance) => instance.node_id === nodeId)
      .sort((a, b) => a.id.localeCompare(b.id));
    for (const instance of nodeInstances) {
      for (const [operation, state] of OPERATIONS[workflow]) {
        steps.push({
          key: `${instance.id}:${operation}`,
          nodeId,
          nodeInstanceId: instance.id,
          operation: `cloudify.interfaces.lifecycle.${operation}`,
          state,
        });
      }
    }
  }
  return steps;
}
