import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/errors.ts';
import { parseBlueprint, resolveInputs } from './blueprint.ts';

function failure(text: string): ApiError {
  try {
    parseBlueprint(text);
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected the blueprint to be refused');
}

describe('blueprint validation', () => {
  it('accepts inputs, node templates with relationships, and outputs', () => {
    const plan = parseBlueprint(`
tosca_definitions_version: cloudify_dsl_1_4
description: two nodes
inputs:
  port: {type: integer, default: 8080}
  name: {type: string}
node_templates:
  vm: {type: compute, properties: {size: small}}
  app: {type: web, relationships: [{type: contained_in, target: vm}]}
outputs:
  url: {value: http://app}
`);
    expect(plan.description).toBe('two nodes');
    expect(plan.nodes.app).toMatchObject({ type: 'web', properties: {}, targets: ['vm'], operations: {} });
    expect(plan.nodes.vm?.properties).toEqual({ size: 'small' });
    expect(Object.keys(plan.inputs)).toEqual(['port', 'name']);
  });

  it.each([
    [
      'an unknown relationship target',
      'tosca_definitions_version: x\nnode_templates:\n  a: {type: t, relationships: [{type: r, target: ghost}]}\n',
      "node_templates.a.relationships[0].target: 'ghost' is not a node template",
    ],
    [
      'a cycle',
      'tosca_definitions_version: x\nnode_templates:\n  a: {type: t, relationships: [{type: r, target: b}]}\n  b: {type: t, relationships: [{type: r, target: a}]}\n',
      'relationship cycle between node templates: a -> b -> a',
    ],
    [
      'a self relationship',
      'tosca_definitions_version: x\nnode_templates:\n  a: {type: t, relationships: [{type: r, target: a}]}\n',
      'a node cannot relate to itself',
    ],
    [
      'bad YAML',
      'tosca_definitions_version: x\nnode_templates: [unclosed\n',
      'the blueprint is not valid YAML',
    ],
    ['a list document', '- a\n- b\n', 'must be a YAML mapping'],
    ['no version', 'node_templates:\n  a: {type: t}\n', 'blueprint tosca_definitions_version:'],
    [
      'a node without type',
      'tosca_definitions_version: x\nnode_templates:\n  a: {properties: {}}\n',
      'blueprint node_templates.a.type:',
    ],
    ['no nodes', 'tosca_definitions_version: x\nnode_templates: {}\n', 'node_templates is empty'],
  ])('refuses %s with a message naming it', (_name, text, message) => {
    const error = failure(text);
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalid_blueprint_error');
    expect(error.message).toContain(message);
  });

  it('fills defaults, refuses unknown and missing inputs', () => {
    const plan = parseBlueprint(
      'tosca_definitions_version: x\ninputs:\n  a: {default: 1}\n  b: {}\nnode_templates:\n  n: {type: t}\n',
    );
    expect(resolveInputs(plan, { b: 2 })).toEqual({ a: 1, b: 2 });
    expect(() => resolveInputs(plan, {})).toThrow('missing required deployment input(s): b');
    expect(() => resolveInputs(plan, { b: 1, c: 3 })).toThrow('unknown deployment input(s): c');
  });
});
