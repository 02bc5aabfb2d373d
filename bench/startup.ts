/**
 * All-in-One startup benchmark: a cold first start (empty volume: initdb, credentials, CA and
 * certificate, schema) and a restart (same volume), each from `docker start` to cluster-status OK,
 * median of 5, with HTTPS (the default) and, in the same run, with plain HTTP (COSMO_TLS=off) beside
 * it; and the size of every image. Measures and records; never passes or fails. Run: pnpm bench:startup
 */
import { trustCa } from '@cosmo/cli/api-client';
import { connectDocker, defaultCatalogue, repository } from '@cosmo/images';
import { waitFor } from '@cosmo/wait';
import type Docker from 'dockerode';
import { median, record } from './record.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const IMAGE = 'cosmo/aio:latest';
const docker = await connectDocker();

async function exec(container: Docker.Container, cmd: string[]): Promise<string> {
  const run = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: false });
  const stream = await run.start({});
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return demux(Buffer.concat(chunks)).trim();
}

/** Where the start's time goes: the first log line of each phase, as seconds after `docker start`. */
const PHASES: [string, RegExp][] = [
  ['entrypoint runs', /aio-entrypoint: /],
  ['PostgreSQL accepts connections', /database system is ready to accept connections/],
  ['manager REST API listens', /REST API on /],
  ['RabbitMQ booted', /completed with \d+ plugins/],
  ['manager connected to the broker', /connected to broker/],
];
const phases: Record<string, { cold: number[]; restart: number[] }> = Object.fromEntries(
  PHASES.map(([name]) => [name, { cold: [], restart: [] }]),
);

async function recordPhases(container: Docker.Container, startedAt: number, kind: 'cold' | 'restart') {
  const raw = (await container.logs({
    stdout: true,
    stderr: true,
    timestamps: true,
    since: Math.floor(startedAt / 1000),
  })) as unknown as Buffer;
  const lines = demux(raw).split('\n');
  for (const [name, pattern] of PHASES) {
    const line = lines.find((l) => pattern.test(l) && Date.parse(l.slice(0, 30)) >= startedAt);
    if (line) phases[name]![kind].push((Date.parse(line.slice(0, 30)) - startedAt) / 1000);
  }
}

/** Docker multiplexes the stream: 8-byte frame headers before each chunk of output. */
function demux(raw: Buffer): string {
  let out = '';
  for (let i = 0; i + 8 <= raw.length; ) {
    const size = raw.readUInt32BE(i + 4);
    out += raw.subarray(i + 8, i + 8 + size).toString();
    i += 8 + size;
  }
  return out;
}

/** Seconds from start to cluster-status OK, polling every 100 ms; then where the time went (HTTPS runs). */
async function startToOk(
  container: Docker.Container,
  kind: 'cold' | 'restart',
  tls: boolean,
): Promise<number> {
  const startedAt = Date.now();
  const seconds = await pollToOk(container, tls);
  if (tls) await recordPhases(container, startedAt, kind);
  return seconds;
}

async function pollToOk(container: Docker.Container, tls: boolean): Promise<number> {
  const started = performance.now();
  await container.start();
  const port = (await container.inspect()).NetworkSettings.Ports['8080/tcp']?.[0]?.HostPort;
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}/api/v3.1`;
  let auth: string | undefined;
  return waitFor(
    'the All-in-One to report OK',
    async () => {
      if (!auth) {
        const password = await exec(container, ['cat', '/var/lib/cosmo/secrets/admin_password']);
        // The API's certificate is checked against the CA the container made (in the same folder).
        const ca = tls ? await exec(container, ['cat', '/var/lib/cosmo/secrets/ca.crt']) : 'none';
        if (password && ca) {
          if (tls) trustCa(ca);
          auth = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;
        }
      }
      if (!auth) return undefined;
      const response = await fetch(`${url}/cluster-status?summary=true`, {
        headers: { authorization: auth },
      });
      if (response.ok && ((await response.json()) as { status: string }).status === 'OK') {
        return (performance.now() - started) / 1000;
      }
      return undefined;
    },
    { timeoutMs: 300_000, delayMs: 100 },
  );
}

const phaseMedian = (values: number[]) => (values.length ? median(values).toFixed(2) : 'not seen');

const cold: number[] = [];
const restart: number[] = [];
const plain = { cold: [] as number[], restart: [] as number[] };
// Each run starts the HTTPS and the plain-HTTP All-in-One in turn, so both see the same machine.
for (let run = 0; run < RUNS * 2; run++) {
  const tls = run % 2 === 0;
  const volume = `cosmo-bench-startup-${process.pid}-${run}`;
  await docker.createVolume({ Name: volume });
  const container = await docker.createContainer({
    Image: IMAGE,
    Env: tls ? [] : ['COSMO_TLS=off'],
    HostConfig: { Binds: [`${volume}:/var/lib/cosmo`], PortBindings: { '8080/tcp': [{ HostPort: '' }] } },
    ExposedPorts: { '8080/tcp': {} },
  });
  try {
    const into = tls ? { cold, restart } : plain;
    into.cold.push(await startToOk(container, 'cold', tls));
    await container.stop({ t: 60 });
    into.restart.push(await startToOk(container, 'restart', tls));
    console.error(
      `run ${Math.floor(run / 2) + 1}/${RUNS} (${tls ? 'https' : 'http'}): cold ${into.cold.at(-1)!.toFixed(2)} s, restart ${into.restart.at(-1)!.toFixed(2)} s`,
    );
  } finally {
    await container.remove({ force: true });
    await docker
      .getVolume(volume)
      .remove()
      .catch(() => {});
  }
}

/** Targets, by image: the All-in-One and the manager have size targets; the others are recorded only. */
const SIZE_TARGETS_MB: Record<string, number> = { aio: 400, manager: 200 };
const verdict = (ok: boolean) => (ok ? 'met' : 'missed');

const sizes: (string | number)[][] = [];
for (const spec of defaultCatalogue.images) {
  const image = await docker
    .getImage(`${repository(defaultCatalogue, spec.name)}:latest`)
    .inspect()
    .catch(() => undefined);
  const mb = image ? image.Size / 1e6 : undefined;
  const target = SIZE_TARGETS_MB[spec.name];
  sizes.push([
    `${repository(defaultCatalogue, spec.name)} size`,
    mb === undefined ? 'not built' : `${mb.toFixed(1)} MB`,
    target === undefined ? '-' : `<= ${target} MB`,
    target === undefined || mb === undefined ? '-' : verdict(mb <= target),
  ]);
}

await record({
  name: 'startup',
  title: 'All-in-One: start to cluster-status OK, and image sizes',
  command: 'pnpm bench:startup',
  columns: ['measure', 'result', 'target', 'verdict'],
  rows: [
    [
      `cold first start -> OK (median of ${RUNS})`,
      `${median(cold).toFixed(2)} s`,
      '<= 8 s',
      verdict(median(cold) <= 8),
    ],
    [
      `restart -> OK (median of ${RUNS})`,
      `${median(restart).toFixed(2)} s`,
      '<= 6 s',
      verdict(median(restart) <= 6),
    ],
    // HTTPS against plain HTTP, same run: the cost of the CA and certificate (cold) and of TLS.
    ...(['cold', 'restart'] as const).map((kind) => {
      const https = median(kind === 'cold' ? cold : restart);
      const http = median(plain[kind]);
      return [
        `${kind === 'cold' ? 'cold first start' : 'restart'}: HTTPS vs plain HTTP (COSMO_TLS=off), same run`,
        `${https.toFixed(2)} s vs ${http.toFixed(2)} s (${((https / http - 1) * 100).toFixed(1)} %)`,
        'within 10 %',
        verdict(https <= http * 1.1),
      ];
    }),
    ...sizes,
  ],
  notes: [
    `HTTPS cold runs: ${cold.map((s) => s.toFixed(2)).join(', ')} s; restarts: ${restart.map((s) => s.toFixed(2)).join(', ')} s`,
    `plain HTTP cold runs: ${plain.cold.map((s) => s.toFixed(2)).join(', ')} s; restarts: ${plain.restart.map((s) => s.toFixed(2)).join(', ')} s`,
    'from `docker start` to `GET /cluster-status` answering OK (polled every 100 ms); cold = empty volume',
    `where the time goes (median s after \`docker start\`, cold / restart): ${PHASES.map(
      ([name]) => `${name} ${phaseMedian(phases[name]!.cold)} / ${phaseMedian(phases[name]!.restart)}`,
    ).join('; ')}; then OK ${median(cold).toFixed(2)} / ${median(restart).toFixed(2)}`,
  ],
  raw: { cold, restart, plain, phases },
});
