/**
 * Workflow benchmark on the All-in-One (cosmo/aio): install executions completed end to end per
 * second, for a blueprint whose every lifecycle operation runs a real (trivial) script, and for the
 * same blueprint without scripts (operations with nothing to run). Measures and records; never
 * passes or fails. Run: pnpm bench:workflows
 */
import { gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import { adminClient, removeVolume, startAio } from '../test/support/aio.ts';
import { eventually } from '../test/support/stack.ts';
import { record } from './record.ts';

const API = '/api/v3.1';
const EXECUTIONS = Number(process.env.BENCH_EXECUTIONS ?? 100);
const NODES = 2;

const lifecycle = (script: boolean) =>
  script
    ? '    interfaces:\n      cloudify.interfaces.lifecycle:\n        create: scripts/op.sh\n        configure: scripts/op.sh\n        start: scripts/op.sh\n'
    : '';
const blueprint = (script: boolean) =>
  `tosca_definitions_version: cloudify_dsl_1_4\nnode_templates:\n${Array.from(
    { length: NODES },
    (_, i) => `  n${i}:\n    type: cloudify.nodes.Root\n${lifecycle(script)}`,
  ).join('')}`;
// Trivial, but a real process per operation, with one ctx call back to the worker.
const SCRIPT = '#!/bin/bash\nctx logger info "operation on $(ctx instance id)"\n';

async function archive(script: boolean): Promise<Buffer> {
  const pack = tarStream.pack();
  pack.entry({ name: 'bp/blueprint.yaml' }, blueprint(script));
  pack.entry({ name: 'bp/scripts/op.sh' }, SCRIPT);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

console.error('starting cosmo/aio...');
const volume = `cosmo-bench-workflows-${process.pid}`;
const container = await startAio(volume);
try {
  const { api } = await adminClient(container);
  await eventually('cluster OK', async () =>
    (await api.get(`${API}/cluster-status`)).body.status === 'OK' ? true : undefined,
  );

  const measure = async (name: string, script: boolean) => {
    const upload = await api.raw('PUT', `${API}/blueprints/${name}?application_file_name=blueprint.yaml`, {
      raw: new Uint8Array(await archive(script)),
      headers: { 'content-type': 'application/octet-stream' },
    });
    if (upload.status !== 201) throw new Error(`upload failed: ${upload.text}`);
    for (let i = 0; i < EXECUTIONS; i++) {
      await api.put(`${API}/deployments/${name}-${i}`, { blueprint_id: name });
    }
    console.error(`${name}: ${EXECUTIONS} installs...`);
    const started = Date.now();
    const ids = await Promise.all(
      Array.from({ length: EXECUTIONS }, async (_, i) => {
        const answer = await api.post(`${API}/executions`, {
          deployment_id: `${name}-${i}`,
          workflow_id: 'install',
        });
        return answer.body.id as string;
      }),
    );
    const ended = await eventually(
      'every install to end',
      async () => {
        const { body } = await api.get(
          `${API}/executions?blueprint_id=${name}&status=pending&status=started&_size=1&_include=id`,
        );
        return body.metadata.pagination.total === 0 ? Date.now() : undefined;
      },
      900_000,
      200,
    );
    const { body } = await api.get(
      `${API}/executions?blueprint_id=${name}&status=terminated&_size=1&_include=id`,
    );
    const seconds = (ended - started) / 1000;
    return { executions: ids.length, terminated: body.metadata.pagination.total as number, seconds };
  };

  const noop = await measure('noop', false);
  const real = await measure('scripts', true);
  const rate = (r: { terminated: number; seconds: number }) => r.terminated / r.seconds;
  await record({
    name: 'workflows',
    title: 'Workflows on the All-in-One: install executions end to end',
    command: 'pnpm bench:workflows',
    columns: ['measure', 'result', 'executions', 'target', 'verdict'],
    rows: [
      [
        'installs /s, a real script per operation (6 scripts each)',
        rate(real).toFixed(1),
        `${real.terminated} of ${real.executions} terminated in ${real.seconds.toFixed(1)} s`,
        '-',
        '-',
      ],
      ['operations (scripts run) /s', ((rate(real) * NODES * 3) as number).toFixed(1), '-', '-', '-'],
      [
        'installs /s, same blueprint without scripts (nothing to run per operation)',
        rate(noop).toFixed(1),
        `${noop.terminated} of ${noop.executions} terminated in ${noop.seconds.toFixed(1)} s`,
        '-',
        '-',
      ],
    ],
    notes: [
      `${EXECUTIONS} installs posted at once, ${NODES} nodes each (create, configure, start); one worker takes 4 executions at a time`,
      `the script: \`${SCRIPT.split('\n')[1]}\` (bash, one ctx call), run as its own uid in a fresh folder`,
      'from the first POST to no execution pending or started',
    ],
    raw: { real, noop },
  });
} finally {
  await container.stop();
  await removeVolume(volume);
}
