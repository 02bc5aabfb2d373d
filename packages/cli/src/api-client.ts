/**
 * The one way the CLI (and the tests and benches) reach a platform's API: its plan's URL (https
 * unless TLS is off) with the project's CA trusted, so the API's certificate is checked against the
 * CA that issued it, never skipped.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { dockerCompose } from './docker-compose.ts';
import type { Project } from './project.ts';

const trusted = new Set<string>();

/**
 * Adds a CA to those this process trusts for every TLS connection it makes (fetch included), beside
 * the system's. Trusting the platform's own CA is the point: it signs only this platform's members.
 */
export function trustCa(pem: string): void {
  const ca = pem.trim();
  if (trusted.has(ca)) return;
  trusted.add(ca);
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), ca]);
}

const fromVolumes = new Map<string, string>();

/** The project's CA: the file in its folder, or the one an All-in-One made in its volume. */
export async function projectCa(project: Project): Promise<string | undefined> {
  const where = project.plan.access.ca;
  if (!where) return undefined;
  if ('file' in where) return readFile(path.resolve(project.configDir, where.file), 'utf8');
  // Read once per run: a running container's CA does not change under it.
  const key = `${project.composeFile}:${where.service}`;
  const known = fromVolumes.get(key);
  if (known) return known;
  const run = await dockerCompose(project, ['exec', '-T', where.service, 'cat', where.inVolume], {
    capture: true,
  });
  if (run.code !== 0)
    throw new Error(`cannot read the CA certificate from the container yet: ${run.stderr.trim()}`);
  fromVolumes.set(key, run.stdout);
  return run.stdout;
}

export interface ApiAnswer {
  status: number;
  text: string;
}

/**
 * One request to the project's API (`path` under /api/v3.1), checked against its CA. `at` reaches
 * the same API at another address (a Swarm node's load balancer) whose certificate carries the name
 * `servername` rather than that address.
 */
export async function apiRequest(
  project: Project,
  path: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    timeoutMs: number;
    at?: { url: string; servername?: string };
  },
): Promise<ApiAnswer> {
  const base = options.at?.url ?? project.plan.access.url;
  const ca = await projectCa(project);
  const url = new URL(`${base}/api/v3.1${path}`);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<ApiAnswer>((resolve, reject) => {
    const request = client.request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        timeout: options.timeoutMs,
        ...(url.protocol === 'https:'
          ? {
              ...(ca ? { ca } : {}),
              ...(options.at?.servername ? { servername: options.at.servername } : {}),
            }
          : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      },
    );
    request.on('timeout', () =>
      request.destroy(new Error(`no answer from ${base} in ${options.timeoutMs} ms`)),
    );
    request.on('error', (error) => reject(explainTlsError(error, base)));
    request.end();
  });
}

/** A refused certificate, said in words. */
export function explainTlsError(error: unknown, url: string): Error {
  const code = (error as { code?: string }).code ?? '';
  if (/CERT|SELF_SIGNED|ERR_TLS|UNABLE_TO_VERIFY|ALTNAME/.test(code)) {
    return new Error(
      `${url}: the API's certificate is not valid for this project (${(error as Error).message}): ` +
        'it must be signed by the CA in the project folder (secrets/ca.crt) and carry the name used',
    );
  }
  if (code === 'ECONNRESET' && url.startsWith('http:')) {
    return new Error(`${url}: the connection was reset; does the API speak https (tls: on in cosmo.yaml)?`);
  }
  return error as Error;
}
