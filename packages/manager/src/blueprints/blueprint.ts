/**
 * Blueprints: the YAML a user uploads, validated (node types, relationship targets, no cycles) and
 * turned into a plan with the order in which the worker installs the node templates.
 */
import { type Document, isMap, isScalar, isSeq, parseDocument, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { checkBounds, tooLarge } from '../api/bounds.ts';
import { ApiError, invalidBlueprint } from '../api/errors.ts';
import { type BlueprintShape, checkFunctions } from './functions.ts';
import { nodeOperations, type OperationSpec, relationshipOperations } from './operations.ts';

const inputSchema = z
  .object({
    type: z.string().optional(),
    description: z.string().optional(),
    default: z.unknown().optional(),
  })
  .loose();

const relationshipSchema = z
  .object({
    type: z.string().min(1),
    target: z.string().min(1),
    source_interfaces: z.record(z.string(), z.unknown()).optional(),
    target_interfaces: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

const nodeSchema = z
  .object({
    type: z.string().min(1),
    properties: z.record(z.string(), z.unknown()).optional(),
    relationships: z.array(relationshipSchema).optional(),
    interfaces: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

const blueprintSchema = z
  .object({
    tosca_definitions_version: z.string().min(1),
    description: z.string().optional(),
    imports: z.array(z.unknown()).optional(),
    inputs: z.record(z.string(), inputSchema.nullable()).optional(),
    node_templates: z.record(z.string(), nodeSchema),
    outputs: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

export type BlueprintNode = z.infer<typeof nodeSchema>;

export interface PlanRelationship {
  type: string;
  target: string;
  /** Relationship operations run for the source node and for the target node, by operation name. */
  source_operations: Record<string, OperationSpec>;
  target_operations: Record<string, OperationSpec>;
}

export interface PlanNode {
  type: string;
  /** As written: functions in them are evaluated when an operation runs. */
  properties: Record<string, unknown>;
  targets: string[];
  /** Lifecycle operations by short name (create, configure, …); absent in plans stored before them. */
  operations?: Record<string, OperationSpec>;
  relationships?: PlanRelationship[];
}

export interface BlueprintPlan {
  description: string | null;
  inputs: Record<string, { type?: string; description?: string; default?: unknown }>;
  nodes: Record<string, PlanNode>;
  outputs: Record<string, unknown>;
  /** Node templates in install order: every node after the nodes it has relationships to. */
  installOrder: string[];
}

function zodPath(path: readonly PropertyKey[]): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .replace(/^\./, '');
}

/** Orders nodes so every relationship target comes first; a cycle is reported with its path. */
export function installOrder(targets: Record<string, readonly string[]>): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (node: string, path: string[]): void => {
    const seen = state.get(node);
    if (seen === 'done') return;
    if (seen === 'visiting') {
      const cycle = [...path.slice(path.indexOf(node)), node];
      throw invalidBlueprint(`relationship cycle between node templates: ${cycle.join(' -> ')}`);
    }
    state.set(node, 'visiting');
    for (const target of targets[node] ?? []) visit(target, [...path, node]);
    state.set(node, 'done');
    order.push(node);
  };
  for (const node of Object.keys(targets).sort()) visit(node, []);
  return order;
}

/**
 * A blueprint's bounds. The YAML parser's own check of key uniqueness takes time quadratic in the keys
 * of a mapping (30,000 keys took 14 s, all of it on the event loop; a one-line flow mapping hides them
 * from any count of lines): it is turned off, and keys are counted and checked for duplicates here,
 * once each, on the parsed document. The text is capped before parsing; aliases count as copies.
 */
export const BLUEPRINT_LIMITS = {
  maxBytes: 1024 * 1024,
  maxKeys: 2_000,
  maxDepth: 64,
  maxChars: 2 * 1024 * 1024,
};

/** Counts every mapping key of the document (a 413 past the limit) and refuses a duplicate key. */
function checkKeys(document: Document.Parsed): void {
  let keys = 0;
  const stack: unknown[] = [document.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        if (++keys > BLUEPRINT_LIMITS.maxKeys) {
          throw tooLarge(`the blueprint has more than ${BLUEPRINT_LIMITS.maxKeys} keys (the limit)`);
        }
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (seen.has(key)) {
          const line = isScalar(pair.key) && pair.key.range ? lineOf(document, pair.key.range[0]) : undefined;
          throw invalidBlueprint(
            `the blueprint is not valid YAML${line ? ` at line ${line}` : ''}: the key '${String(key)}' appears twice in one mapping`,
          );
        }
        seen.add(key);
        stack.push(pair.value);
      }
    } else if (isSeq(node)) stack.push(...node.items);
  }
}

const lineOf = (document: Document.Parsed, offset: number) =>
  (document.toString().slice(0, offset).match(/\n/g)?.length ?? 0) + 1;

/**
 * `files`: the paths in the blueprint's archive (relative to the folder of its main YAML), which
 * script operations must name; undefined for a YAML upload, which can hold no scripts.
 */
export function parseBlueprint(text: string, files?: ReadonlySet<string>): BlueprintPlan {
  if (Buffer.byteLength(text) > BLUEPRINT_LIMITS.maxBytes) {
    throw tooLarge(`the blueprint YAML is larger than ${BLUEPRINT_LIMITS.maxBytes} bytes (the limit)`);
  }
  let document: unknown;
  try {
    const parsed = parseDocument(text, { uniqueKeys: false });
    if (parsed.errors[0]) throw parsed.errors[0];
    checkKeys(parsed);
    document = parsed.toJS({ maxAliasCount: 100 });
  } catch (error) {
    if (error instanceof ApiError) throw error;
    const where = error instanceof YAMLParseError && error.linePos ? ` at line ${error.linePos[0].line}` : '';
    throw invalidBlueprint(
      `the blueprint is not valid YAML${where}: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  checkBounds(document, 'the blueprint', BLUEPRINT_LIMITS);
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw invalidBlueprint(
      'the blueprint must be a YAML mapping with tosca_definitions_version and node_templates',
    );
  }
  const parsed = blueprintSchema.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalidBlueprint(`blueprint ${zodPath(issue.path) || 'document'}: ${issue.message}`);
  }
  const blueprint = parsed.data;
  const names = Object.keys(blueprint.node_templates);
  if (names.length === 0)
    throw invalidBlueprint('blueprint node_templates is empty: declare at least one node');
  const nodes: BlueprintPlan['nodes'] = {};
  for (const name of names) {
    const node = blueprint.node_templates[name]!;
    const targets = (node.relationships ?? []).map((relationship, i) => {
      if (!blueprint.node_templates[relationship.target]) {
        throw invalidBlueprint(
          `node_templates.${name}.relationships[${i}].target: '${relationship.target}' is not a node template (known: ${names.join(', ')})`,
        );
      }
      if (relationship.target === name) {
        throw invalidBlueprint(
          `node_templates.${name}.relationships[${i}].target: a node cannot relate to itself`,
        );
      }
      return relationship.target;
    });
    nodes[name] = {
      type: node.type,
      properties: node.properties ?? {},
      targets,
      operations: nodeOperations(node.interfaces, `node_templates.${name}.interfaces`, files),
      relationships: (node.relationships ?? []).map((relationship, i) => ({
        type: relationship.type,
        target: relationship.target,
        ...relationshipOperations(relationship, `node_templates.${name}.relationships[${i}]`, files),
      })),
    };
  }
  const inputs: BlueprintPlan['inputs'] = {};
  for (const [name, input] of Object.entries(blueprint.inputs ?? {})) inputs[name] = input ?? {};
  checkPlanFunctions(inputs, nodes, blueprint.outputs ?? {});
  return {
    description: blueprint.description ?? null,
    inputs,
    nodes,
    outputs: blueprint.outputs ?? {},
    installOrder: installOrder(Object.fromEntries(Object.entries(nodes).map(([n, v]) => [n, v.targets]))),
  };
}

/** Every script a plan's operations name. */
export function scriptsOf(plan: BlueprintPlan): string[] {
  const specs = Object.values(plan.nodes).flatMap((node) => [
    ...Object.values(node.operations ?? {}),
    ...(node.relationships ?? []).flatMap((r) => [
      ...Object.values(r.source_operations),
      ...Object.values(r.target_operations),
    ]),
  ]);
  return [...new Set(specs.map((spec) => spec.script))];
}

/** Every intrinsic function of the blueprint, where it is written (see functions.ts). */
function checkPlanFunctions(
  inputs: BlueprintPlan['inputs'],
  nodes: BlueprintPlan['nodes'],
  outputs: Record<string, unknown>,
): void {
  const shape: BlueprintShape = { inputs, nodes, checked: new Set() };
  for (const [name, node] of Object.entries(nodes)) {
    for (const [key, value] of Object.entries(node.properties)) {
      const path = `${name}.properties.${key}`;
      if (shape.checked!.has(path)) continue; // followed already, from a reference to it
      checkFunctions(value, `node_templates.${path}`, { self: name, inProperties: true }, shape, [path]);
      shape.checked!.add(path);
    }
    for (const [op, spec] of Object.entries(node.operations ?? {})) {
      checkFunctions(spec.inputs, `node_templates.${name}.interfaces.${op}.inputs`, { self: name }, shape);
    }
    (node.relationships ?? []).forEach((relationship, i) => {
      const scope = { source: name, target: relationship.target };
      for (const [side, ops] of [
        ['source_interfaces', relationship.source_operations],
        ['target_interfaces', relationship.target_operations],
      ] as const) {
        for (const [op, spec] of Object.entries(ops)) {
          checkFunctions(
            spec.inputs,
            `node_templates.${name}.relationships[${i}].${side}.${op}.inputs`,
            scope,
            shape,
          );
        }
      }
    });
  }
  for (const [name, output] of Object.entries(outputs)) checkFunctions(output, `outputs.${name}`, {}, shape);
}

/** Deployment inputs checked against the blueprint: unknown ones and missing required ones are refused. */
export function resolveInputs(plan: BlueprintPlan, given: Record<string, unknown>): Record<string, unknown> {
  const unknown = Object.keys(given).filter((name) => !(name in plan.inputs));
  if (unknown.length > 0) {
    throw new ApiError(
      400,
      'unknown_deployment_input_error',
      `unknown deployment input(s): ${unknown.join(', ')}; the blueprint declares ${Object.keys(plan.inputs).join(', ') || 'none'}`,
    );
  }
  const resolved: Record<string, unknown> = {};
  const missing: string[] = [];
  for (const [name, input] of Object.entries(plan.inputs)) {
    if (name in given) resolved[name] = given[name];
    else if ('default' in input) resolved[name] = input.default;
    else missing.push(name);
  }
  if (missing.length > 0) {
    throw new ApiError(
      400,
      'missing_required_deployment_input_error',
      `missing required deployment input(s): ${missing.join(', ')}`,
    );
  }
  return resolved;
}
