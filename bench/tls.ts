/**
 * What TLS costs through the load balancer: a distributed cluster brought up with TLS (the default:
 * clients -> LB -> managers over HTTPS, and the managers' PostgreSQL, AMQP and Patroni links, etcd
 * and Erlang distribution too) and then one made with --insecure-http (every link in clear), one
 * after the other on the same machine, each measured with the same load: GET /status (Basic auth)
 * and POST /executions, req/s. Measures and records; never passes or fails. Run: pnpm bench:tls
 */
import { type Cluster, removeProject, startCluster } from '../test/support/cluster.ts';
import { eventually } from '../test/support/stack.ts';
import { LOAD, type Load, load } from './load.ts';
import { record } from './record.ts';

const DURATION = LOAD.seconds;
const CONNECTIONS = LOAD.connections;
const API = '/api/v3.1';
const DEPLOYMENTS = 100;

// autocannon connects without checking the certificate (it sets rejectUnauthorized: false); the
// handshake and the encryption, what costs, are the same as a checking client's.

async function measure(cluster: Cluster): Promise<{ status: Load; executions: Load }> {
  const admin = { authorization: `Basic ${Buffer.from(`admin:${cluster.password}`).toString('base64')}` };
  await eventually(
    'cluster OK',
    async () => ((await cluster.status())?.status === 'OK' ? true : undefined),
    180_000,
  );
  await cluster.api.raw('PUT', `${API}/blueprints/bench`, {
    raw: 'tosca_definitions_version: x\nnode_templates:\n  vm: {type: t}\n',
    headers: { 'content-type': 'application/yaml' },
  });
  for (let i = 0; i < DEPLOYMENTS; i++) {
    await cluster.api.put(`${API}/deployments/bench-${i}`, { blueprint_id: 'bench' });
  }
  console.error(`${cluster.url}: GET /status...`);
  const status = await load(`${cluster.url}${API}/status`, { headers: admin });
  console.error(`${cluster.url}: POST /executions...`);
  let next = 0;
  const executions = await load(`${cluster.url}${API}/executions`, {
    method: 'POST',
    headers: { ...admin, 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (request) => ({
          ...request,
          body: JSON.stringify({
            deployment_id: `bench-${next++ % DEPLOYMENTS}`,
            workflow_id: 'install',
            force: true,
          }),
        }),
      },
    ],
  });
  return { status, executions };
}

// Rounds alternate the two clusters (TLS, clear, TLS, clear, ...): single 10 s runs on 2 shared cores
// differ by tens of percent from one run to the next; each figure is the median of its rounds.
const ROUNDS = Number(process.env.BENCH_RUNS ?? 3);
const rounds: Record<'https' | 'http', { status: Load; executions: Load }[]> = { https: [], http: [] };
for (let round = 1; round <= ROUNDS; round++) {
  for (const [scheme, initArgs] of [
    ['https', []],
    ['http', ['--insecure-http']],
  ] as const) {
    const name = `cosmo-bench-tls-${scheme}`;
    await removeProject(name);
    console.error(`round ${round} of ${ROUNDS}: bringing up ${name}...`);
    const cluster = await startCluster('distributed', name, 18390, { initArgs: [...initArgs] });
    try {
      rounds[scheme].push(await measure(cluster));
    } finally {
      await cluster.down();
    }
  }
}

/** The round whose req/s is the median, for one measure (its latencies come with it). */
const medianRound = (scheme: 'https' | 'http', measure: 'status' | 'executions'): Load => {
  const sorted = rounds[scheme]
    .map((r) => r[measure])
    .sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const results = {
  https: { status: medianRound('https', 'status'), executions: medianRound('https', 'executions') },
  http: { status: medianRound('http', 'status'), executions: medianRound('http', 'executions') },
};

const row = (label: string, https: Load, http: Load): (string | number)[] => {
  const share = https.requestsPerSecond / http.requestsPerSecond;
  return [
    label,
    `${https.requestsPerSecond.toFixed(0)} vs ${http.requestsPerSecond.toFixed(0)} (${(share * 100).toFixed(0)} %)`,
    `${https.p50ms} / ${http.p50ms}`,
    `${https.p99ms} / ${http.p99ms}`,
    `${https.non2xx + https.errors} / ${http.non2xx + http.errors}`,
    '>= 80 % of plain HTTP',
    share >= 0.8 ? 'met' : 'missed',
  ];
};

await record({
  name: 'tls',
  title: 'TLS on every link against every link in clear, through the load balancer (distributed cluster)',
  command: 'pnpm bench:tls',
  columns: ['measure (HTTPS vs HTTP)', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx + errors', 'target', 'verdict'],
  rows: [
    row('GET /status (Basic auth), through the LB', results.https.status, results.http.status),
    row('POST /executions, through the LB', results.https.executions, results.http.executions),
  ],
  notes: [
    `${CONNECTIONS} keep-alive connections, ${DURATION} s per measure (autocannon), median of ${ROUNDS} rounds, each round bringing up the TLS cluster and then the clear one; 3 managers, 3 db and 3 queue nodes and the LB on this one machine with the load generator`,
    `every round, req/s TLS vs clear: ${rounds.https.map((r, i) => `status ${r.status.requestsPerSecond.toFixed(0)} vs ${rounds.http[i]!.status.requestsPerSecond.toFixed(0)}, executions ${r.executions.requestsPerSecond.toFixed(0)} vs ${rounds.http[i]!.executions.requestsPerSecond.toFixed(0)}`).join('; ')}`,
    "TLS: clients -> LB -> managers over HTTPS (the managers' certificates checked by the LB), managers -> PostgreSQL (verify-full), RabbitMQ (AMQPS) and Patroni (client certificates), etcd and Erlang distribution over TLS; plain: `cosmo init --insecure-http`, every link in clear; the two clusters run one after the other, never together",
    'autocannon does not check the certificate (it cannot be told a CA); the handshake and encryption are the same',
  ],
  raw: { results, rounds },
});
