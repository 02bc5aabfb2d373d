/** A small HTTP client for the manager's REST API, returning status and parsed body. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { trustCa } from '@cosmo/cli/api-client';

/**
 * Trusts a project folder's CA (secrets/ca.crt) for this process's TLS connections, as the CLI does:
 * the API's certificate is then checked, never skipped.
 */
export async function trustProjectCa(dir: string): Promise<void> {
  trustCa(await readFile(path.join(dir, 'secrets/ca.crt'), 'utf8'));
}

export interface Answer<T = any> {
  status: number;
  body: T;
  text: string;
  contentType: string;
}

export function client(base: string, headers: Record<string, string> = {}) {
  const call = async <T = any>(
    method: string,
    path: string,
    options: { body?: unknown; raw?: RequestInit['body']; headers?: Record<string, string> } = {},
  ): Promise<Answer<T>> => {
    const init: RequestInit = { method, headers: { ...headers, ...options.headers } };
    if (options.raw !== undefined) init.body = options.raw;
    else if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    const response = await fetch(`${base}${path}`, init);
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return {
      status: response.status,
      body: body as T,
      text,
      contentType: response.headers.get('content-type') ?? '',
    };
  };
  return {
    get: <T = any>(path: string, h?: Record<string, string>) => call<T>('GET', path, { headers: h ?? {} }),
    post: <T = any>(path: string, body?: unknown, h?: Record<string, string>) =>
      call<T>('POST', path, { body, headers: h ?? {} }),
    put: <T = any>(path: string, body?: unknown, h?: Record<string, string>) =>
      call<T>('PUT', path, { body, headers: h ?? {} }),
    del: <T = any>(path: string, h?: Record<string, string>) => call<T>('DELETE', path, { headers: h ?? {} }),
    raw: call,
  };
}

export type Client = ReturnType<typeof client>;
