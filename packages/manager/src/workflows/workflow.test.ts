import { describe, expect, it } from 'vitest';
import { installOrder, parseBlueprint } from '../blueprints/blueprint.ts';
import { workflowSteps } from './workflow.ts';

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
