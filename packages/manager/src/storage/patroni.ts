/**
 * Patroni's REST API: which member is the primary (`GET /primary` answers 200 only there) and the
 * members of the cluster (`GET /cluster`), for finding the database and for cluster health.
 */

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
export async function memberVersion(member: PatroniMember, timeoutMs = 1_000): Promise<string> {
  if (!member.api_url) return '';
  try {
    const { status, body } = await getJson(new URL('/patroni', member.api_url).toString(), timeoutMs);
    const version = (body as { server_version?: number }).server_version;
    if (status !== 200 || typeof version !== 'number') return '';
    return `${Math.floor(version / 10000)}.${version % 10000}`;
  } catch {
    return '';
  }
}

async function getJson(url: string, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Patroni answers JSON; anything else is kept as text for the error message
  }
  return { status: response.status, body };
}

/**
 * The host of the member that answers 200 to `GET /primary`, or undefined when none does. The first
 * 200 wins: a dead member's timeout (its host gone with it) must not delay finding the new primary.
 * Patroni does not report its own connect address there; the REST URL's host is the member.
 */
export function findPrimary(urls: readonly string[], timeoutMs = 2_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    let pending = urls.length;
    if (pending === 0) resolve(undefined);
    for (const url of urls) {
      getJson(`${url}/primary`, timeoutMs)
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

/** The members as the first answering Patroni sees them. */
export async function clusterMembers(urls: readonly string[], timeoutMs = 2_000): Promise<PatroniMember[]> {
  let lastError: unknown = new Error('no Patroni URL configured');
  for (const url of urls) {
    try {
      const { status, body } = await getJson(`${url}/cluster`, timeoutMs);
      if (status !== 200) throw new Error(`${url}/cluster answered ${status}`);
      return ((body as { members?: PatroniMember[] }).members ?? []).map((m) => ({ ...m }));
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
