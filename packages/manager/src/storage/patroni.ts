/**
 * Patroni's REST API: which member is the primary (`GET /primary` answers 200 only there) and the
 * members of the cluster (`GET /cluster`), for finding the database and for cluster health. Over
 * https (a cluster with TLS), Patroni's certificate is checked against the platform's CA and the
 * manager shows its own certificate, which Patroni requires of every client.
 */
import http from 'node:http';
import https from 'node:https';
import type { PatroniTls } from '../config.ts';

export interface PatroniMember {
  name: string;
  host: string;
  port: number;
  role: string;
  state: string;
  api_url?: string;
  lag?: number | string;
}

/** A member's PostgreSQL version from its own `GET /patroni` (`server_version` 170012 -> "17.12"). */
export async function memberVersion(
  member: PatroniMember,
  tls?: PatroniTls,
  timeoutMs = 1_000,
): Promise<string> {
  if (!member.api_url) return '';
  try {
    const { status, body } = await getJson(new URL('/patroni', member.api_url).toString(), timeoutMs, tls);
    const version = (body as { server_version?: number }).server_version;
    if (status !== 200 || typeof version !== 'number') return '';
    return `${Math.floor(version / 10000)}.${version % 10000}`;
  } catch {
    return '';
  }
}

/** GET `url` (http or https, with `tls`'s CA and client certificate), its status and parsed body. */
function getJson(
  url: string,
  timeoutMs: number,
  tls?: PatroniTls,
): Promise<{ status: number; body: unknown }> {
  const secure = url.startsWith('https:');
  const client = secure ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.get(
      url,
      { timeout: timeoutMs, ...(secure && tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {}) },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // Patroni answers JSON; anything else is kept as text for the error message
          }
          resolve({ status: response.statusCode ?? 0, body });
        });
      },
    );
    // The whole request, not only an idle socket: a member that accepts and never answers is dead too.
    const deadline = setTimeout(
      () => request.destroy(new Error(`${url}: no answer in ${timeoutMs} ms`)),
      timeoutMs,
    );
    request.on('close', () => clearTimeout(deadline));
    request.on('timeout', () => request.destroy(new Error(`${url}: no answer in ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

/**
 * The host of the member that answers 200 to `GET /primary`, or undefined when none does. The first
 * 200 wins: a dead member's timeout (its host gone with it) must not delay finding the new primary.
 * Patroni does not report its own connect address there; the REST URL's host is the member.
 */
export function findPrimary(
  urls: readonly string[],
  tls?: PatroniTls,
  timeoutMs = 2_000,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    let pending = urls.length;
    if (pending === 0) resolve(undefined);
    for (const url of urls) {
      getJson(`${url}/primary`, timeoutMs, tls)
        .then(
          (answer) => {
            if (answer.status === 200) resolve(new URL(url).hostname);
          },
          () => {},
        )
        .finally(() => {
          if (--pending === 0) resolve(undefined);
        });
    }
  });
}

/**
 * The standby reads go to without a primary: a synchronous one (it has applied every acknowledged
 * commit), else any replica that streams; never `exclude` (the primary that stopped answering).
 */
export function readableStandby(members: readonly PatroniMember[], exclude?: string): string | undefined {
  const streaming = members.filter(
    (member) =>
      member.role !== 'leader' &&
      ['running', 'streaming'].includes(member.state) &&
      member.host !== exclude &&
      member.name !== exclude,
  );
  return (streaming.find((member) => member.role === 'sync_standby') ?? streaming[0])?.host;
}

/** The members as the first answering Patroni sees them. */
export async function clusterMembers(
  urls: readonly string[],
  tls?: PatroniTls,
  timeoutMs = 2_000,
): Promise<PatroniMember[]> {
  let lastError: unknown = new Error('no Patroni URL configured');
  for (const url of urls) {
    try {
      const { status, body } = await getJson(`${url}/cluster`, timeoutMs, tls);
      if (status !== 200) throw new Error(`${url}/cluster answered ${status}`);
      return ((body as { members?: PatroniMember[] }).members ?? []).map((m) => ({ ...m }));
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
