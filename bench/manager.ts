/**
 * Manager benchmark, against real containers (cosmo/manager, cosmo/postgres, cosmo/rabbitmq):
 * requests/s for GET /status (no database), listing 1,000 deployments and creating deployments (the
 * database), POST /executions, and executions completed end to end per second.
 * Measures and records; never passes or fails. Run: pnpm bench:manager
 */
import { client } from '../test/support/api.ts';
import { eventually, startStack } from '../test/support/stack.ts';
import { LOAD, load } from './load.ts';
import { record } from './record.ts';

const DURATION = LOAD.seconds;
const CONNECTIONS = LOAD.connections;
const API = '/api/v3.1';

console.error('starting postgres, rabbitmq and the manager...');
const stack = await startStack();
try {
  const api = client(stack.url, stack.admin);
  await eventually('cluster OK', async () =>
    (await api.get(`${API}/cluster-status`)).body.status === 'OK' ? true : undefined,
  );
  const token = (await api.post(`${API}/tokens`, { description: 'bench' })).body.value as string;

  console.error(`GET /status, Basic auth, ${CONNECTIONS} connections, ${DURATION} s...`);
  const statusBasic = await load(`${stack.url}${API}/status`, { headers: stack.admin });
  console.error('GET /status, token auth...');
  const statusToken = await load(`${stack.url}${API}/status`, { headers: { 'authentication-token': token } });

  const blueprint =
    'tosca_definitions_version: x\nnode_templates:\n  vm: {type: t}\n  app: {type: t, relationships: [{type: r, target: vm}]}\n';
  await api.raw('PUT', `${API}/blueprints/bench`, {
    raw: blueprint,
    headers: { 'content-type': 'application/yaml' },
  });
  // 1,000 deployments to list; executions go to 400 of them (a deployment runs one at a time).
  const deployments = 400;
  for (let i = 0; i < 1_000; i++) await api.put(`${API}/deployments/bench-${i}`, { blueprint_id: 'bench' });

  console.error('GET /deployments?_size=1000 (1,000 rows from PostgreSQL)...');
  const list = await load(`${stack.url}${API}/deployments?_size=1000`, { headers: stack.admin });
  console.error('PUT /deployments/<new id>...');
  let created = 0;
  const create = await load(`${stack.url}${API}/deployments`, {
    method: 'PUT',
    headers: { ...stack.admin, 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (request) => ({
          ...request,
          path: `${API}/deployments/bench-new-${created++}`,
          body: JSON.stringify({ blueprint_id: 'bench' }),
        }),
      },
    ],
  });

  console.error('POST /executions...');
  let next = 0;
  const startedBefore = Date.now();
  const executions = await load(`${stack.url}${API}/executions`, {
    method: 'POST',
    headers: { ...stack.admin, 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (request) => ({
          ...request,
          // force: a deployment may be asked again before its last execution ends.
          body: JSON.stringify({
            deployment_id: `bench-${next++ % deployments}`,
            workflow_id: 'install',
            force: true,
          }),
        }),
      },
    ],
  });
  console.error('waiting for the posted executions to finish...');
  const drained = await eventually(
    'the queue to drain',
    async () => {
      const { body } = await api.get(`${API}/executions?status=pending&status=started&_size=1&_include=id`);
      return body.metadata.pagination.total === 0 ? Date.now() : undefined;
    },
    600_000,
    500,
  );
  const count = async (filter: string) =>
    (await api.get(`${API}/executions?${filter}_size=1&_include=id`)).body.metadata.pagination
      .total as number;
  const posted = await count('');
  const done = await count('status=terminated&');
  const endToEnd = done / ((drained - startedBefore) / 1000);

  const fmt = (n: number) => n.toFixed(0);
  await record({
    name: 'manager',
    title: 'Manager: REST throughput and executions',
    command: 'pnpm bench:manager',
    columns: ['measure', 'result', 'p50 (ms)', 'p99 (ms)', 'non-2xx', 'target', 'verdict'],
    rows: [
      [
        'GET /status req/s (Basic auth)',
        fmt(statusBasic.requestsPerSecond),
        statusBasic.p50ms,
        statusBasic.p99ms,
        statusBasic.non2xx,
        '>= 2000',
        statusBasic.requestsPerSecond >= 2000 ? 'met' : 'missed',
      ],
      [
        'GET /status req/s (token auth)',
        fmt(statusToken.requestsPerSecond),
        statusToken.p50ms,
        statusToken.p99ms,
        statusToken.non2xx,
        '-',
        '-',
      ],
      [
        'GET /deployments?_size=1000 req/s (1,000 rows)',
        fmt(list.requestsPerSecond),
        list.p50ms,
        list.p99ms,
        list.non2xx,
        '-',
        '-',
      ],
      [
        'PUT /deployments/<id> req/s (create)',
        fmt(create.requestsPerSecond),
        create.p50ms,
        create.p99ms,
        create.non2xx,
        '-',
        '-',
      ],
      [
        'POST /executions req/s',
        fmt(executions.requestsPerSecond),
        executions.p50ms,
        executions.p99ms,
        executions.non2xx,
        '-',
        '-',
      ],
      ['executions completed end to end /s (no-op operations)', endToEnd.toFixed(1), '-', '-', '-', '-', '-'],
    ],
    notes: [
      `${CONNECTIONS} connections, ${DURATION} s per measure (autocannon), all three containers and the load generator on the same 2 cores`,
      `${done} of ${posted} posted executions terminated (2 nodes, 6 lifecycle steps each); end-to-end rate from the first POST to an empty queue`,
      "the executions' operations are no-ops: the blueprint has no scripts, so each step only records its passage (`pnpm bench:workflows` measures installs that run a script per operation)",
      'GET /status reads no database (health is kept in memory); listing and creating deployments do',
      'target: >= 2,000 req/s for GET /status',
    ],
    raw: { statusBasic, statusToken, list, create, executions, done, posted, endToEnd },
  });
} finally {
  await stack.stop();
}
