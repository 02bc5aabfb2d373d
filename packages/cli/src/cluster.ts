/** Asks a running manager for its cluster status, as the admin. */
import { apiRequest } from './api-client.ts';
import type { Project } from './project.ts';
import { adminPassword } from './secrets.ts';

export interface ClusterNode {
  status: string;
  failures?: string[];
}
export interface ClusterStatus {
  status: 'OK' | 'Degraded' | 'Fail';
  services: Record<
    string,
    { status: string; is_external: boolean; nodes?: Record<string, ClusterNode>; failures?: string[] }
  >;
}

/** One authenticated call to the manager's API as the admin; the body parsed when it is JSON. */
export async function apiCall(
  project: Project,
  method: string,
  path: string,
): Promise<{ status: number; body: { message?: string } & Record<string, unknown> }> {
  const secret = await adminPassword(project);
  const auth = Buffer.from(`${project.plan.access.adminUser}:${secret}`).toString('base64');
  const response = await apiRequest(project, path, {
    method,
    headers: { authorization: `Basic ${auth}` },
    timeoutMs: 10_000,
  });
  const text = response.text;
  let body: { message?: string } & Record<string, unknown> = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { message: `${response.status} ${text.slice(0, 80)}` };
  }
  return { status: response.status, body };
}

export async function clusterStatus(
  project: Project,
  options: { password?: string; at?: { url: string; servername?: string } } = {},
): Promise<ClusterStatus> {
  const secret = options.password ?? (await adminPassword(project));
  const auth = Buffer.from(`${project.plan.access.adminUser}:${secret}`).toString('base64');
  const response = await apiRequest(project, '/cluster-status', {
    headers: { authorization: `Basic ${auth}` },
    timeoutMs: 5_000,
    ...(options.at ? { at: options.at } : {}),
  });
  const text = response.text;
  let body: ClusterStatus & { message?: string };
  try {
    body = JSON.parse(text) as ClusterStatus & { message?: string };
  } catch {
    // A load balancer with no manager behind it answers with its own HTML page.
    throw new Error(
      response.status === 503
        ? 'no manager answers behind the load balancer yet (503)'
        : `the API answered ${response.status} with something other than JSON`,
    );
  }
  if (!body.services)
    throw new Error(`the manager answered ${response.status}: ${body.message ?? 'no status'}`);
  return body;
}

/** One row per node: service, node, status, failures; first a service's own failures (a failover). */
export function statusRows(status: ClusterStatus): string[][] {
  const rows: string[][] = [];
  for (const [service, info] of Object.entries(status.services)) {
    if (info.failures?.length) rows.push([service, '(service)', info.status, info.failures.join('; ')]);
    if (info.is_external || !info.nodes) {
      rows.push([service, '(external)', info.status, '']);
      continue;
    }
    for (const [node, detail] of Object.entries(info.nodes)) {
      rows.push([service, node, detail.status, (detail.failures ?? []).join('; ')]);
    }
  }
  return rows;
}

export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, col) => Math.max(...all.map((row) => (row[col] ?? '').length)));
  return all
    .map((row) =>
      row
        .map((cell, col) => cell.padEnd(widths[col]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
