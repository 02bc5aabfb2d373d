/**
 * Hostile requests against the All-in-One: each request an API user could send to make the server
 * work harder than the client, timed to its answer, while a second client asks `GET /ok` in a loop
 * (the health check every load balancer depends on) and records how long each answer took. Targets:
 * every hostile request answered within a second, /ok within 100 ms throughout. Measures and records;
 * never passes or fails. Run: pnpm bench:hostile
 */
import { randomBytes } from 'node:crypto';
import { adminClient, removeVolume, startAio } from '../test/support/aio.ts';
import { client } from '../test/support/api.ts';
import { median, record } from './record.ts';

const API = '/api/v3.1';
const log = (line: string) => process.stderr.write(`${line}\n`);

/** A chain of 20 nodes, each property referring twice to the next: 2^20 lookups without a memo. */
function referenceChain(levels = 20): string {
  const lines = ['tosca_definitions_version: cloudify_dsl_1_4', 'node_templates:'];
  for (let i = 0; i < levels; i++) {
    const next = `{get_property: [n${i + 1}, a]}`;
    lines.push(`  n${i}: {type: t, properties: {a: {concat: [${next}, ${next}]}}}`);
  }
  lines.push(`  n${levels}: {type: t, properties: {a: x}}`);
  return `${lines.join('\n')}\n`;
}

/** 20,000 keys on one line (a flow mapping), past any count of key lines. */
function flowMapping(keys = 20_000): string {
  const properties = Array.from({ length: keys }, (_, i) => `k${i}: ${i}`).join(', ');
  return `tosca_definitions_version: cloudify_dsl_1_4\nnode_templates:\n  n: {type: t, properties: {${properties}}}\n`;
}

log('starting cosmo/aio...');
const volume = `cosmo-bench-hostile-${process.pid}`;
const container = await startAio(volume);
try {
  const { api: admin, url } = await adminClient(container);
  const basic = (user: string) => ({
    authorization: `Basic ${Buffer.from(`${user}:wrong`).toString('base64')}`,
  });

  /** `GET /ok` in a loop for as long as `work` runs: the work's time, its answer, /ok's latencies. */
  const during = async (work: () => Promise<string>) => {
    const latencies: number[] = [];
    let running = true;
    const prober = (async () => {
      while (running) {
        const sent = performance.now();
        await fetch(`${url}${API}/ok`)
          .then((r) => r.arrayBuffer())
          .catch(() => undefined);
        latencies.push(performance.now() - sent);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 200)); // /ok's baseline first
    const started = performance.now();
    const answer = await work();
    const ms = performance.now() - started;
    running = false;
    await prober;
    latencies.sort((a, b) => a - b);
    return {
      ms,
      answer,
      okMedian: median(latencies),
      okMax: latencies.at(-1) ?? 0,
      okSamples: latencies.length,
    };
  };

  const upload = (id: string, yaml: string) => async () => {
    const answer = await admin.raw('PUT', `${API}/blueprints/${id}`, {
      raw: yaml,
      headers: { 'content-type': 'application/yaml' },
    });
    return `${answer.status} ${answer.body?.error_code ?? ''}`.trim();
  };

  const measures: [string, () => Promise<string>][] = [
    ['upload: 20-level get_property chain, each level referring twice', upload('chain', referenceChain())],
    ['upload: 20,000 keys in one flow mapping', upload('flow', flowMapping())],
    [
      'login with a 16 KB user name',
      async () => `${(await client(url, basic('u'.repeat(16 * 1024))).get(`${API}/status`)).status}`,
    ],
    [
      '1,000 failed logins with made-up names (8 at a time)',
      async () => {
        const statuses = new Map<number, number>();
        for (let i = 0; i < 1_000; i += 8) {
          const answers = await Promise.all(
            Array.from({ length: 8 }, () =>
              client(url, basic(`x${randomBytes(6).toString('hex')}`)).get(`${API}/status`),
            ),
          );
          for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        }
        return [...statuses].map(([status, n]) => `${n}× ${status}`).join(', ');
      },
    ],
  ];

  const rows: (string | number)[][] = [];
  const raw: Record<string, unknown> = {};
  for (const [name, work] of measures) {
    log(`${name}...`);
    const result = await during(work);
    raw[name] = result;
    log(
      `  ${result.ms.toFixed(0)} ms, answer ${result.answer}, /ok median ${result.okMedian.toFixed(1)} ms, max ${result.okMax.toFixed(1)} ms`,
    );
    // The thousand logins are a sequence of requests: their target is each request's, not the total's.
    const perRequest = name.startsWith('1,000') ? (result.ms / 1_000) * 8 : result.ms;
    rows.push([
      name,
      result.ms.toFixed(0),
      result.answer,
      `${result.okMedian.toFixed(1)} / ${result.okMax.toFixed(1)}`,
      name.startsWith('1,000') ? '< 1000 per request; /ok < 100' : '< 1000; /ok < 100',
      perRequest < 1_000 && result.okMax < 100 ? 'met' : 'missed',
    ]);
  }
  await record({
    name: 'hostile',
    title: 'Hostile requests on the All-in-One, and /ok meanwhile',
    command: 'pnpm bench:hostile',
    columns: ['measure', 'time (ms)', 'answer', '/ok median / max (ms)', 'target', 'verdict'],
    rows,
    notes: [
      'One All-in-One (cosmo/aio with the planned privileges), the load generator on the same 2 cores; /ok is asked in a loop (10 ms apart) from 200 ms before each hostile request until its answer.',
      'The chain is 21 nodes, each property a concat of two get_property lookups of the next node: 2^20 lookups for a checker without a memo. The flow mapping is one line of 20,000 keys (the limit is 2,000 keys, counted on the parsed document).',
      'The failed logins: 125 rounds of 8 parallel requests, each with a new random user name and a wrong password; the time is the whole sequence.',
    ],
    raw,
  });
} finally {
  await container.stop();
  await removeVolume(volume);
}
