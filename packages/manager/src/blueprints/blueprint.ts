/**
 * Blueprints: the YAML a user uploads, validated (node types, relationship targets, no cycles) and
 * turned into a plan with the order in which the worker installs the node templates.
 */
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { checkBounds, tooLarge } from '../api/bounds.ts';
import { ApiError, invalidBlueprint } from '../api/errors.ts';

const inputSchema = z
  .object({
    type: z.string().optional(),
    description: z.string().optional(),
    default: z.unknown().optional(),
  })
  .loose();

const relationshipSchema = z.object({ type: z.string().min(1), target: z.string().min(1) }).loose();

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

export interface BlueprintPlan {
  description: string | null;
  inputs: Record<string, { type?: string; description?: string; default?: unknown }>;
  nodes: Record<string, { type: string; properties: Record<string, unknown>; targets: string[] }>;
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
 * A blueprint's bounds. The YAML parser checks key uniqueness in time quadratic in the keys of a
 * mapping (30,000 keys took 14 s, all of it on the event loop): the text is capped, and so is the
 * count of lines that can hold a key, before parsing. Aliases count as copies towards the size.
 */
export const BLUEPRINT_LIMITS = {
  maxBytes: 1024 * 1024,
  maxKeyLines: 2_000,
  maxDepth: 64,
  maxChars: 2 * 1024 * 1024,
};

export function parseBlueprint(text: string): BlueprintPlan {
  if (Buffer.byteLength(text) > BLUEPRINT_LIMITS.maxBytes) {
    throw tooLarge(`the blueprint YAML is larger than ${BLUEPRINT_LIMITS.maxBytes} bytes (the limit)`);
  }
  const keyLines = text.match(/^[ \t-]*[^\s#-][^\n]*:(?:[ \t]|$)/gm)?.length ?? 0;
  if (keyLines > BLUEPRINT_LIMITS.maxKeyLines) {
    throw tooLarge(`the blueprint has ${keyLines} keys; the limit is ${BLUEPRINT_LIMITS.maxKeyLines}`);
  }
  let document: unknown;
  try {
    document = parseYaml(text, { maxAliasCount: 100 });
  } catch (error) {
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
    nodes[name] = { type: node.type, properties: node.properties ?? {}, targets };
  }
  const inputs: BlueprintPlan['inputs'] = {};
  for (const [name, input] of Object.entries(blueprint.inputs ?? {})) inputs[name] = input ?? {};
  return {
    description: blueprint.description ?? null,
    inputs,
    nodes,
    outputs: blueprint.outputs ?? {},
    installOrder: installOrder(Object.fromEntries(Object.entries(nodes).map(([n, v]) => [n, v.targets]))),
  };
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
