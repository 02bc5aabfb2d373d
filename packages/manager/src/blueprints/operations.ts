/**
 * A blueprint's operations: `interfaces` of node templates (cloudify.interfaces.lifecycle) and of
 * relationships (cloudify.interfaces.relationship_lifecycle, on the source and on the target). An
 * operation is a script inside the blueprint archive, written as its path or as
 * `{implementation, inputs, max_retries, retry_interval, timeout}`; the script plugin's own form
 * (`implementation: script.script_runner.tasks.run` with a `script_path` input) is read the same way.
 */
import path from 'node:path';
import { invalidBlueprint } from '../api/errors.ts';

export interface OperationSpec {
  /** The script's path inside the archive, relative to the folder of the main YAML. */
  script: string;
  inputs: Record<string, unknown>;
  /** Unset: the execution's task_retries / task_retry_interval decide. */
  maxRetries?: number;
  retryInterval?: number;
  timeout?: number;
}

export const LIFECYCLE = 'cloudify.interfaces.lifecycle';
export const RELATIONSHIP_LIFECYCLE = 'cloudify.interfaces.relationship_lifecycle';
const SCRIPT_RUNNER = 'script.script_runner.tasks.run';

function number(value: unknown, where: string, min: number, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalidBlueprint(`${where}: must be a number from ${min} to ${max}`);
  }
  return value;
}

/** The script a path names, checked to be inside the archive (no absolute path, no `..` out of it). */
function scriptPath(script: string, where: string, files: ReadonlySet<string> | undefined): string {
  const normal = path.posix.normalize(script);
  if (script.startsWith('/') || normal.startsWith('../') || normal === '..') {
    throw invalidBlueprint(`${where}: '${script}' is outside the blueprint archive; name a file inside it`);
  }
  if (!files) {
    throw invalidBlueprint(
      `${where}: '${script}' is a script, and a blueprint uploaded as YAML carries none; upload an archive holding the blueprint and its scripts`,
    );
  }
  if (!files.has(normal)) {
    throw invalidBlueprint(`${where}: '${script}' is not in the blueprint archive`);
  }
  return normal;
}

function operation(
  value: unknown,
  where: string,
  files: ReadonlySet<string> | undefined,
): OperationSpec | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const spec: Record<string, unknown> =
    typeof value === 'string' ? { implementation: value } : (value as Record<string, unknown>);
  if (typeof spec !== 'object' || Array.isArray(spec)) {
    throw invalidBlueprint(`${where}: an operation is a script path or a mapping with implementation`);
  }
  const inputs = (spec.inputs ?? {}) as Record<string, unknown>;
  if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) {
    throw invalidBlueprint(`${where}.inputs: must be a mapping`);
  }
  let implementation = spec.implementation;
  if (implementation === undefined || implementation === '') return undefined;
  if (typeof implementation !== 'string') throw invalidBlueprint(`${where}.implementation: must be a string`);
  const rest = { ...inputs };
  if (implementation === SCRIPT_RUNNER) {
    if (typeof inputs.script_path !== 'string') {
      throw invalidBlueprint(`${where}.inputs.script_path: ${SCRIPT_RUNNER} needs the script's path`);
    }
    implementation = inputs.script_path;
    delete rest.script_path;
  } else if (/^[A-Za-z_]\w*(\.\w+)+$/.test(implementation) && !/\.(sh|bash|py)$/.test(implementation)) {
    throw invalidBlueprint(
      `${where}.implementation: '${implementation}' is a plugin task; this manager runs scripts from the blueprint archive only`,
    );
  }
  return {
    script: scriptPath(implementation as string, `${where}.implementation`, files),
    inputs: rest,
    ...withDefined('maxRetries', number(spec.max_retries, `${where}.max_retries`, 0, 1000)),
    ...withDefined('retryInterval', number(spec.retry_interval, `${where}.retry_interval`, 0, 3600)),
    ...withDefined('timeout', number(spec.timeout, `${where}.timeout`, 0.1, 86_400)),
  };
}

function withDefined<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

/** The operations of one interface, by short name (create, configure, …); other interfaces are kept out. */
function interfaceOperations(
  interfaces: Record<string, unknown> | undefined,
  name: string,
  where: string,
  files: ReadonlySet<string> | undefined,
): Record<string, OperationSpec> {
  const ops = interfaces?.[name];
  if (ops === undefined || ops === null) return {};
  if (typeof ops !== 'object' || Array.isArray(ops))
    throw invalidBlueprint(`${where}.${name}: must be a mapping`);
  const result: Record<string, OperationSpec> = {};
  for (const [op, value] of Object.entries(ops)) {
    const spec = operation(value, `${where}.${name}.${op}`, files);
    if (spec) result[op] = spec;
  }
  return result;
}

export function nodeOperations(
  interfaces: Record<string, unknown> | undefined,
  where: string,
  files: ReadonlySet<string> | undefined,
): Record<string, OperationSpec> {
  return interfaceOperations(interfaces, LIFECYCLE, where, files);
}

export function relationshipOperations(
  relationship: { source_interfaces?: Record<string, unknown>; target_interfaces?: Record<string, unknown> },
  where: string,
  files: ReadonlySet<string> | undefined,
): { source_operations: Record<string, OperationSpec>; target_operations: Record<string, OperationSpec> } {
  return {
    source_operations: interfaceOperations(
      relationship.source_interfaces,
      RELATIONSHIP_LIFECYCLE,
      `${where}.source_interfaces`,
      files,
    ),
    target_operations: interfaceOperations(
      relationship.target_interfaces,
      RELATIONSHIP_LIFECYCLE,
      `${where}.target_interfaces`,
      files,
    ),
  };
}
