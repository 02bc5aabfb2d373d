import { describe, expect, it } from 'vitest';
import { installOrder, parseBlueprint } from '../blueprints/blueprint.ts';
import { workflowScope, workflowSteps } from './workflow.ts';

const blueprint = `
tosca_definitions_version: cloudify_dsl_1_4
node_templates:
  app: {type: web, relationships: [{type: connected_to, target: db}, {type: contained_in, target: vm}]}
  db: {type: dbms, relationships: [{type: contained_in, target: vm}]}
  vm: {type: compute}
  lonely: {type: compute}
`;

describe('workflow ordering', () => {
  const plan = parseBlueprint(blueprint);
  const instances = Object.keys(plan.nodes).map((node) => ({ id: `${node}_1`, node_id: node }));

  it('installs every relationship target before its source', () => {
    expect(plan.installOrder).toEqual(['vm', 'db', 'app', 'lonely']);
    const steps = workflowSteps('install', plan, instances);
    const position = (key: string) => steps.findIndex((step) => step.key === key);
    expect(position('vm_1:start')).toBeLessThan(position('db_1:create'));
    expect(position('db_1:start')).toBeLessThan(position('app_1:create'));
    expect(steps.filter((s) => s.nodeId === 'app').map((s) => s.operation)).toEqual([
      'cloudify.interfaces.lifecycle.create',
      'cloudify.interfaces.lifecycle.configure',
      'cloudify.interfaces.lifecycle.start',
    ]);
    expect(steps).toHaveLength(12);
  });

  it('uninstalls in reverse: sources stop before their targets', () => {
    const steps = workflowSteps('uninstall', plan, instances);
    expect(steps.map((s) => s.key)).toEqual([
      'lonely_1:stop',
      'lonely_1:delete',
      'app_1:stop',
      'app_1:delete',
      'db_1:stop',
      'db_1:delete',
      'vm_1:stop',
      'vm_1:delete',
    ]);
    expect(steps.at(-1)?.state).toBe('deleted');
  });

  it('gives every step a key unique within the execution', () => {
    const keys = workflowSteps('install', plan, instances).map((s) => s.key);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('orders a diamond so shared targets come once and first', () => {
    expect(installOrder({ top: ['left', 'right'], left: ['base'], right: ['base'], base: [] })).toEqual([
      'base',
      'left',
      'right',
      'top',
    ]);
  });
});

describe('install and uninstall narrowed by node_ids, node_instance_ids and type_names', () => {
  const plan = parseBlueprint(blueprint);
  const instances = Object.keys(plan.nodes).map((node) => ({ id: `${node}_1`, node_id: node }));
  const nodesRun = (scope: Record<string, unknown>, workflow: 'install' | 'uninstall' = 'uninstall') => [
    ...new Set(
      workflowSteps(workflow, plan, instances, workflowScope(scope, plan, instances)).map((s) => s.nodeId),
    ),
  ];

  it('runs only the instances every given filter names (a partial uninstall stays partial)', () => {
    expect(nodesRun({ node_ids: ['app'] })).toEqual(['app']);
    expect(nodesRun({ node_instance_ids: ['db_1', 'vm_1'] })).toEqual(['db', 'vm']);
    expect(nodesRun({ type_names: ['compute'] })).toEqual(['lonely', 'vm']);
    expect(nodesRun({ type_names: ['compute'], node_ids: ['vm', 'app'] })).toEqual(['vm']);
    // Empty or absent filters narrow nothing.
    expect(nodesRun({ node_ids: [], type_names: null }, 'install')).toEqual(['vm', 'db', 'app', 'lonely']);
  });

  it('refuses a name the deployment does not have, or a filter that is not a list of names', () => {
    expect(() => workflowScope({ node_ids: ['ghost'] }, plan, instances)).toThrow(
      /node_ids: ghost not in this deployment \(it has app, db, vm, lonely\)/,
    );
    expect(() => workflowScope({ node_instance_ids: ['app_2'] }, plan, instances)).toThrow(/app_2 not in/);
    expect(() => workflowScope({ type_names: 'compute' }, plan, instances)).toThrow(
      /must be a list of names/,
    );
  });
});
