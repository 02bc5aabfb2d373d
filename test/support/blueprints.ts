/**
 * Blueprints the tests and benchmarks upload as archives, and the one that counts its own runs: each
 * of its operations is a script that leaves a mark outside the event table (a runtime property of
 * its own, named after the execution and the operation), so an operation that really runs twice
 * leaves two marks even where events are deduplicated.
 */
import { gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import type { Client } from './api.ts';

const API = '/api/v3.1';

/** A .tar.gz of the files (paths inside the archive as given). */
export async function tarGz(files: Record<string, string>): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mode: 0o644 }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

/** Uploads `files` (blueprint.yaml and its scripts, relative to the blueprint's folder) as blueprint `id`. */
export async function uploadArchive(api: Client, id: string, files: Record<string, string>) {
  const archive = await tarGz(
    Object.fromEntries(Object.entries(files).map(([name, content]) => [`bp/${name}`, content])),
  );
  return api.raw('PUT', `${API}/blueprints/${id}?application_file_name=blueprint.yaml`, {
    raw: new Uint8Array(archive),
    headers: { 'content-type': 'application/octet-stream' },
  });
}

/**
 * Two nodes (app contained in vm), every lifecycle operation of both the counting script: 6 script
 * runs per install. Each run adds a runtime property `run:<execution>:<operation>:<pid>.<random>` in
 * one UPDATE that merges a new key, so concurrent executions never lose each other's marks.
 */
export const COUNTING_BLUEPRINT = {
  'blueprint.yaml': `tosca_definitions_version: cloudify_dsl_1_4
node_templates:
  vm:
    type: cloudify.nodes.Compute
    interfaces:
      cloudify.interfaces.lifecycle: {create: scripts/count.sh, configure: scripts/count.sh, start: scripts/count.sh}
  app:
    type: cloudify.nodes.ApplicationServer
    relationships: [{type: cloudify.relationships.contained_in, target: vm}]
    interfaces:
      cloudify.interfaces.lifecycle: {create: scripts/count.sh, configure: scripts/count.sh, start: scripts/count.sh}
`,
  'scripts/count.sh': `#!/bin/bash
set -e
ctx instance runtime-properties "run:$(ctx execution-id):$(ctx operation name):$$.$RANDOM" 1
sleep "\${COUNT_SLEEP:-0.2}"
`,
};
/** Script runs of one install of COUNTING_BLUEPRINT. */
export const COUNTING_RUNS = 6;

/** How many times each operation of each execution ran on a deployment of COUNTING_BLUEPRINT. */
export async function scriptRuns(api: Client, deployment: string): Promise<Map<string, Map<string, number>>> {
  const { body, status } = await api.get(`${API}/node-instances?deployment_id=${deployment}&_size=100`);
  if (status !== 200) throw new Error(`listing node instances answered ${status}`);
  const runs = new Map<string, Map<string, number>>();
  for (const instance of body.items as { id: string; runtime_properties: Record<string, unknown> }[]) {
    for (const key of Object.keys(instance.runtime_properties ?? {})) {
      const [mark, execution, operation] = key.split(':');
      if (mark !== 'run' || !execution || !operation) continue;
      const byOperation = runs.get(execution) ?? new Map<string, number>();
      const what = `${instance.id} ${operation}`;
      byOperation.set(what, (byOperation.get(what) ?? 0) + 1);
      runs.set(execution, byOperation);
    }
  }
  return runs;
}

/** The total script runs of one execution. */
export function totalRuns(runs: Map<string, Map<string, number>>, execution: string): number {
  return [...(runs.get(execution)?.values() ?? [])].reduce((sum, n) => sum + n, 0);
}
