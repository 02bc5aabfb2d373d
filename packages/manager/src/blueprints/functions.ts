/**
 * Cloudify's intrinsic functions: `get_input`, `get_property`, `get_attribute`, `concat`, `merge`,
 * `string_find`, `string_replace`, `string_split`, `string_lower`, `string_upper`, `get_sys`, and
 * `get_secret` (a secret's value, or with more arguments a key path into a JSON value). A function
 * is a mapping with exactly one key that names it. They are checked when a blueprint is uploaded (names, arguments, references, cycles) and
 * evaluated where Cloudify evaluates them: node properties and operation inputs when an operation
 * runs, outputs when they are read.
 */
import { invalidBlueprint } from '../api/errors.ts';
import { reveal } from '../secrets/redact.ts';

export const FUNCTION_NAMES = [
  'get_input',
  'get_property',
  'get_attribute',
  'concat',
  'merge',
  'string_find',
  'string_replace',
  'string_split',
  'string_lower',
  'string_upper',
  'get_sys',
  'get_secret',
] as const;

/** How many arguments each string function takes (Cloudify's counts), and which must be integers. */
const STRING_FUNCTIONS: Record<
  'string_find' | 'string_replace' | 'string_split',
  { min: number; max: number; integer?: number }
> = {
  string_find: { min: 2, max: 2 },
  string_replace: { min: 3, max: 4, integer: 3 },
  string_split: { min: 2, max: 3, integer: 2 },
};

/** What get_sys may read: `[entity, property]`. */
export const SYSTEM_PROPERTIES = [
  'tenant.name',
  'deployment.id',
  'deployment.name',
  'deployment.blueprint',
  'deployment.owner',
] as const;
type FunctionName = (typeof FUNCTION_NAMES)[number];

interface Call {
  name: FunctionName;
  args: unknown;
}

/** A one-key mapping naming a function, or a one-key mapping that looks like one (`get_…`). */
function callOf(value: unknown): Call | { unknown: string } | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const key = keys[0]!;
  if ((FUNCTION_NAMES as readonly string[]).includes(key)) {
    return { name: key as FunctionName, args: (value as Record<string, unknown>)[key] };
  }
  return /^get_[a-z_]+$/.test(key) ? { unknown: key } : undefined;
}

/** Where a function appears decides what it may name: SELF in a node, SOURCE/TARGET in a relationship. */
export interface Scope {
  /** The node the value belongs to (SELF), when there is one. */
  self?: string;
  /** In a relationship operation: its source and target nodes. */
  source?: string;
  target?: string;
  /** Node properties are resolved before anything runs: get_attribute has nothing to read yet. */
  inProperties?: boolean;
}

/** What the upload check needs to know of the blueprint. */
export interface BlueprintShape {
  inputs: Record<string, unknown>;
  nodes: Record<string, { properties: Record<string, unknown> }>;
  /**
   * Properties already followed to their end without a problem (`node.properties.name`): each is
   * followed once, so chains of references that fan out cost linear time, not exponential.
   */
  checked?: Set<string>;
}

type Path = (string | number)[];

function nodeRef(ref: unknown, scope: Scope, where: string, nodes: Record<string, unknown>): string {
  if (ref === 'SELF' && scope.self) return scope.self;
  if (ref === 'SOURCE' && scope.source) return scope.source;
  if (ref === 'TARGET' && scope.target) return scope.target;
  if (ref === 'SELF' || ref === 'SOURCE' || ref === 'TARGET') {
    const allowed = scope.source ? 'SOURCE or TARGET' : scope.self ? 'SELF' : 'a node template name';
    throw invalidBlueprint(`${where}: ${ref} cannot be used here (use ${allowed})`);
  }
  if (typeof ref !== 'string' || !(ref in nodes)) {
    throw invalidBlueprint(
      `${where}: '${String(ref)}' is not a node template (known: ${Object.keys(nodes).join(', ')})`,
    );
  }
  return ref;
}

function pathArgs(args: unknown, name: string, where: string, min: number): Path {
  const list = Array.isArray(args) ? args : [args];
  if (list.length < min || list.some((item) => typeof item !== 'string' && typeof item !== 'number')) {
    throw invalidBlueprint(
      `${where}: ${name} takes ${min === 1 ? 'a name' : 'a node (SELF, SOURCE, TARGET or a name) and a property'}, optionally followed by keys and list indexes`,
    );
  }
  return list as Path;
}

/**
 * Checks every function in `value` (found at `where`): known names, well-formed arguments, declared
 * inputs, existing nodes and properties; and that get_property/get_attribute references between
 * properties never come back to where they started. Throws a 400 naming the path of the problem.
 */
export function checkFunctions(
  value: unknown,
  where: string,
  scope: Scope,
  shape: BlueprintShape,
  visiting: string[] = [],
): void {
  const call = callOf(value);
  if (call && 'unknown' in call) {
    throw invalidBlueprint(
      `${where}: unknown intrinsic function ${call.unknown} (known: ${FUNCTION_NAMES.join(', ')})`,
    );
  }
  if (!call) {
    if (Array.isArray(value))
      value.forEach((item, i) => {
        checkFunctions(item, `${where}[${i}]`, scope, shape, visiting);
      });
    else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value))
        checkFunctions(item, `${where}.${key}`, scope, shape, visiting);
    }
    return;
  }
  const at = `${where}.${call.name}`;
  const inner = (args: unknown[]) =>
    args.forEach((item, i) => {
      checkFunctions(item, `${at}[${i}]`, scope, shape, visiting);
    });
  switch (call.name) {
    case 'merge': {
      if (!Array.isArray(call.args)) throw invalidBlueprint(`${at}: merge takes a list of mappings`);
      call.args.forEach((item, i) => {
        if (!callOf(item) && (item === null || typeof item !== 'object' || Array.isArray(item))) {
          throw invalidBlueprint(`${at}[${i}]: merge takes mappings (or functions that give one)`);
        }
      });
      inner(call.args);
      return;
    }
    case 'string_find':
    case 'string_replace':
    case 'string_split': {
      const { min, max, integer = -1 } = STRING_FUNCTIONS[call.name];
      if (!Array.isArray(call.args) || call.args.length < min || call.args.length > max) {
        throw invalidBlueprint(
          `${at}: ${call.name} takes ${min === max ? min : `${min} or ${max}`} arguments in a list`,
        );
      }
      const count = call.args[integer];
      if (count !== undefined && !callOf(count) && !Number.isInteger(count)) {
        throw invalidBlueprint(`${at}[${integer}]: must be an integer`);
      }
      inner(call.args);
      return;
    }
    case 'string_lower':
    case 'string_upper':
      if (typeof call.args !== 'string' && !callOf(call.args)) {
        throw invalidBlueprint(`${at}: ${call.name} takes one string (or a function that gives one)`);
      }
      inner([call.args]);
      return;
    case 'get_sys': {
      const path = Array.isArray(call.args) ? call.args.join('.') : '';
      if (!(SYSTEM_PROPERTIES as readonly string[]).includes(path)) {
        throw invalidBlueprint(
          `${at}: get_sys takes [entity, property], one of ${SYSTEM_PROPERTIES.map((p) => `[${p.replace('.', ', ')}]`).join(', ')}`,
        );
      }
      return;
    }
    case 'get_secret': {
      // Which secret is looked up when the value is evaluated: it need not exist at upload.
      const [key] = pathArgs(call.args, 'get_secret', at, 1);
      if (typeof key !== 'string' || key === '') {
        throw invalidBlueprint(
          `${at}: get_secret takes a secret's key, optionally followed by keys into its value`,
        );
      }
      return;
    }
    case 'get_input': {
      const [name] = pathArgs(call.args, 'get_input', at, 1);
      if (typeof name !== 'string' || !(name in shape.inputs)) {
        throw invalidBlueprint(
          `${at}: '${String(name)}' is not a declared input (declared: ${Object.keys(shape.inputs).join(', ') || 'none'})`,
        );
      }
      return;
    }
    case 'concat': {
      if (!Array.isArray(call.args)) throw invalidBlueprint(`${at}: concat takes a list of values`);
      call.args.forEach((item, i) => {
        checkFunctions(item, `${at}[${i}]`, scope, shape, visiting);
      });
      return;
    }
    case 'get_property':
    case 'get_attribute': {
      const [ref, property] = pathArgs(call.args, call.name, at, 2);
      const node = nodeRef(ref, scope, at, shape.nodes);
      const properties = shape.nodes[node]!.properties;
      const key = `${node}.properties.${String(property)}`;
      if (visiting.includes(key)) {
        throw invalidBlueprint(
          `${at}: circular ${call.name}: ${[...visiting, key].map((k) => `node_templates.${k}`).join(' -> ')}`,
        );
      }
      if (call.name === 'get_property' && !(String(property) in properties)) {
        throw invalidBlueprint(`${at}: node template '${node}' has no property '${String(property)}'`);
      }
      // Follow the referenced property first: its own functions must not lead back here. One followed
      // to its end before cannot lead back either (it would have come back to itself then).
      if (String(property) in properties && !shape.checked?.has(key)) {
        checkFunctions(
          properties[String(property)],
          `node_templates.${key}`,
          { self: node, inProperties: true },
          shape,
          [...visiting, key],
        );
        shape.checked?.add(key);
      }
      if (call.name === 'get_attribute' && scope.inProperties) {
        throw invalidBlueprint(
          `${at}: get_attribute reads runtime properties, which node properties are resolved before (use it in operation inputs or outputs)`,
        );
      }
      return;
    }
  }
}

/** What evaluation reads: inputs, node properties (raw), live runtime properties and secrets. */
export interface Values {
  inputs: Record<string, unknown>;
  properties(node: string): Record<string, unknown>;
  /** The runtime properties of the node's instance (one instance per node). */
  runtime(node: string): Record<string, unknown>;
  /** A secret's value (throws when there is none). */
  secret(key: string): string;
  /** What get_sys reads: `tenant.name`, `deployment.id` ... (absent where there is no deployment). */
  system?: Partial<Record<(typeof SYSTEM_PROPERTIES)[number], string>>;
  /** Where what each get_secret produced is noted, to be kept out of logs and outputs. */
  revealed?: Set<string>;
}

/** The arguments of every call of `name` in `value` (calls inside calls too). */
export function callsOf(value: unknown, name: FunctionName, found: unknown[] = []): unknown[] {
  const call = callOf(value);
  if (call && !('unknown' in call) && call.name === name) found.push(call.args);
  const items = Array.isArray(value)
    ? value
    : value !== null && typeof value === 'object'
      ? Object.values(value)
      : [];
  for (const item of items) callsOf(item, name, found);
  return found;
}

/** The keys every get_secret in `value` names, so that only those secrets are read. */
export function secretKeys(value: unknown): string[] {
  const keys = callsOf(value, 'get_secret').map((args) => (Array.isArray(args) ? args[0] : args));
  return [...new Set(keys.filter((key): key is string => typeof key === 'string'))];
}

/** A string function's argument, which Cloudify requires to be a string once evaluated. */
function text(value: unknown, name: string, what: string): string {
  if (typeof value !== 'string') {
    throw new FunctionError(`${name}: its ${what} must be a string, not ${JSON.stringify(value)}`);
  }
  return value;
}

export class FunctionError extends Error {}

function dig(value: unknown, path: Path, what: string): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') {
      throw new FunctionError(`${what}: nothing at '${String(key)}'`);
    }
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

/** Work one evaluation may do at most: a blueprint's references cannot make an operation spin. */
export const MAX_EVALUATION_STEPS = 100_000;

interface Evaluation {
  steps: number;
  /** Each referenced property resolved once per evaluation (`get_property:node.name`). */
  resolved: Map<string, unknown>;
}

/** Evaluates every function in `value`; the result holds none. */
export function evaluate(
  value: unknown,
  scope: Scope,
  values: Values,
  depth = 0,
  run: Evaluation = { steps: 0, resolved: new Map() },
): unknown {
  if (depth > 32) throw new FunctionError('functions nest deeper than 32 levels');
  if (++run.steps > MAX_EVALUATION_STEPS) {
    throw new FunctionError(`evaluating takes more than ${MAX_EVALUATION_STEPS} steps`);
  }
  const next = (item: unknown, itemScope: Scope = scope) => evaluate(item, itemScope, values, depth + 1, run);
  const call = callOf(value);
  if (!call || 'unknown' in call) {
    if (Array.isArray(value)) return value.map((item) => next(item));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, next(item)]));
    }
    return value;
  }
  const args = (Array.isArray(call.args) ? call.args : [call.args]) as Path;
  const node = (ref: unknown) =>
    ref === 'SELF'
      ? scope.self
      : ref === 'SOURCE'
        ? scope.source
        : ref === 'TARGET'
          ? scope.target
          : String(ref);
  switch (call.name) {
    case 'merge':
      return Object.assign(
        {},
        ...args.map((item, i) => {
          const merged = next(item);
          if (merged === null || typeof merged !== 'object' || Array.isArray(merged)) {
            throw new FunctionError(`merge: item ${i} is not a mapping`);
          }
          return merged;
        }),
      );
    case 'string_find': {
      const [haystack, needle] = args.map((item) => next(item));
      return text(haystack, call.name, 'haystack').indexOf(text(needle, call.name, 'needle'));
    }
    case 'string_replace': {
      const [haystack, needle, replacement, count] = args.map((item) => next(item));
      const source = text(haystack, call.name, 'haystack');
      const old = text(needle, call.name, 'needle');
      const by = text(replacement, call.name, 'replacement');
      if (old === '') throw new FunctionError('string_replace: the needle is empty');
      // Python's str.replace: the first `count` occurrences, all when it is absent or negative.
      if (typeof count !== 'number' || count < 0) return source.split(old).join(by);
      let out = source;
      for (let from = 0, n = 0; n < count; n++) {
        const found = out.indexOf(old, from);
        if (found < 0) break;
        out = out.slice(0, found) + by + out.slice(found + old.length);
        from = found + by.length;
      }
      return out;
    }
    case 'string_split': {
      const [input, separator, index] = args.map((item) => next(item));
      const by = text(separator, call.name, 'separator');
      if (by === '') throw new FunctionError('string_split: the separator is empty');
      const parts = text(input, call.name, 'input').split(by);
      if (index === undefined) return parts;
      const part = parts.at(Number(index));
      if (part === undefined) {
        throw new FunctionError(
          `string_split: index ${String(index)} is out of range (${parts.length} parts)`,
        );
      }
      return part;
    }
    case 'string_lower':
      return text(next(call.args), call.name, 'input').toLowerCase();
    case 'string_upper':
      return text(next(call.args), call.name, 'input').toUpperCase();
    case 'get_sys': {
      const path = args.join('.') as (typeof SYSTEM_PROPERTIES)[number];
      const value = values.system?.[path];
      if (value === undefined) throw new FunctionError(`get_sys ${args.join(' ')}: not known here`);
      return value;
    }
    case 'get_secret': {
      const key = String(args[0]);
      const value = values.secret(key);
      if (values.revealed) reveal(value, values.revealed);
      if (args.length === 1) return value;
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        throw new FunctionError(
          `get_secret ${key}: its value is not JSON, so it has no '${String(args[1])}'`,
        );
      }
      const part = dig(parsed, args.slice(1), `get_secret ${key}`);
      if (values.revealed) reveal(part, values.revealed);
      return part;
    }
    case 'get_input':
      return dig(values.inputs[String(args[0])], args.slice(1), `get_input ${String(args[0])}`);
    case 'concat':
      return args
        .map((item) => next(item))
        .map((item) =>
          typeof item === 'object' && item !== null ? JSON.stringify(item) : String(item ?? ''),
        )
        .join('');
    case 'get_property':
    case 'get_attribute': {
      const name = node(args[0]);
      if (!name) throw new FunctionError(`${call.name}: ${String(args[0])} has no meaning here`);
      const property = String(args[1]);
      const key = `${call.name}:${name}.${property}`;
      if (!run.resolved.has(key)) {
        const runtime = call.name === 'get_attribute' ? values.runtime(name) : {};
        const raw = property in runtime ? runtime[property] : values.properties(name)[property];
        run.resolved.set(key, next(raw, { self: name }));
      }
      return dig(run.resolved.get(key), args.slice(2), `${call.name} ${name}.${property}`);
    }
  }
}
