/** One autocannon load against a URL, reduced to the figures the benchmarks record. */
import autocannon from 'autocannon';

export const LOAD = { connections: 32, seconds: Number(process.env.BENCH_SECONDS ?? 10) };

export interface Load {
  requestsPerSecond: number;
  p50ms: number;
  p99ms: number;
  non2xx: number;
  errors: number;
  total: number;
}

export async function load(url: string, options: Partial<autocannon.Options>): Promise<Load> {
  const result = await autocannon({ url, connections: LOAD.connections, duration: LOAD.seconds, ...options });
  return {
    requestsPerSecond: result.requests.average,
    p50ms: result.latency.p50,
    p99ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    total: result.requests.total,
  };
}
