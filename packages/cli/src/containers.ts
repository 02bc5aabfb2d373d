/**
 * What a project's containers say about themselves, for commands that wait on or report a platform
 * whose API does not answer: state, health, restarts, the manager's last warning, last log lines.
 */
import type Docker from 'dockerode';
import type { Project } from './project.ts';

export interface ContainerView {
  id: string;
  service: string;
  /** created, running, restarting, exited, dead, … */
  state: string;
  /** starting, healthy, unhealthy; undefined without a health check. */
  health: string | undefined;
  restarts: number;
  exitCode: number;
}

export async function projectContainers(docker: Docker, project: Project): Promise<ContainerView[]> {
  const listed = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${project.plan.name}`] },
  });
  const views = await Promise.all(
    listed.map(async (c) => {
      const info = await docker.getContainer(c.Id).inspect();
      return {
        id: c.Id,
        service: c.Labels['com.docker.compose.service'] ?? c.Names[0]?.replace(/^\//, '') ?? c.Id,
        state: info.State.Status,
        health: info.State.Health?.Status,
        restarts: info.RestartCount,
        exitCode: info.State.ExitCode,
      };
    }),
  );
  return views.sort((a, b) => a.service.localeCompare(b.service));
}

/** `aio running (starting)`, `db1 exited (code 2)`, `manager2 restarting (3 restarts)`. */
export function describeContainer(c: ContainerView): string {
  const detail =
    c.state === 'exited' || c.state === 'dead'
      ? `code ${c.exitCode}`
      : [c.health, c.restarts > 0 ? `${c.restarts} restarts` : undefined].filter(Boolean).join(', ');
  return `${c.service} ${c.state}${detail ? ` (${detail})` : ''}`;
}

/**
 * Docker multiplexes stdout and stderr of a container without a TTY into frames of an 8-byte header
 * (stream, 3 zero bytes, big-endian length) and the payload; a TTY container's log is the raw text.
 */
function demux(buffer: Buffer): string {
  if (buffer.length < 8 || buffer[1] !== 0 || buffer[2] !== 0 || buffer[3] !== 0 || buffer[0]! > 2) {
    return buffer.toString('utf8');
  }
  const parts: Buffer[] = [];
  for (let offset = 0; offset + 8 <= buffer.length; ) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

export async function lastLogLines(docker: Docker, id: string, lines: number): Promise<string[]> {
  const raw = (await docker
    .getContainer(id)
    .logs({ stdout: true, stderr: true, follow: false, tail: lines })) as unknown as Buffer;
  return demux(Buffer.from(raw))
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '');
}

// FATAL in capitals only (PostgreSQL's and RabbitMQ's level); a lower-case word fatal may be a name.
const TELLING = [
  /\b(FATAL|PANIC)\b/,
  /error|fail|refus|denied|cannot|can't|must|missing|invalid|not found|unreachable/i,
];

/**
 * The lines of a container's recent log that say why it stopped: errors and refusals, each distinct
 * line once (a restart loop repeats them), the last `count` of them; the plain tail when none match.
 */
export async function tellingLogLines(docker: Docker, id: string, count: number): Promise<string[]> {
  const lines = await lastLogLines(docker, id, 400);
  const telling = lines.filter((line) => TELLING.some((pattern) => pattern.test(line)));
  if (telling.length === 0) return lines.slice(-count);
  // Without timestamps, a repeated message is the same line: keep its last occurrence only.
  const key = (line: string) =>
    line.replace(/^[\d:.,TZ+ -]{19,40}\s*/, '').replace(/\bpid \d+|<[\d.]+>/g, '');
  const seen = new Set<string>();
  const distinct: string[] = [];
  for (const line of telling.reverse()) {
    if (seen.has(key(line))) continue;
    seen.add(key(line));
    distinct.push(line);
  }
  return distinct.slice(0, count).reverse();
}

/** The manager's log format: `<ISO time> <level> [manager/<role>] <message>`. */
const MANAGER_LINE = /^\S+ (warn|error) \[manager\/[a-z]+\] (.*)$/;

/** The last warning or error a manager in these containers logged, as `manager: <message>`. */
export async function lastManagerWarning(
  docker: Docker,
  containers: ContainerView[],
): Promise<string | undefined> {
  for (const c of containers) {
    if (!/^(aio|manager\d*|node\d*)$/.test(c.service)) continue;
    const lines = await lastLogLines(docker, c.id, 200).catch(() => []);
    for (const line of lines.reverse()) {
      const match = MANAGER_LINE.exec(line);
      if (match) return `manager: ${match[2]!.replace(/; retrying$/, '')}`;
    }
  }
  return undefined;
}

/**
 * A container that will not come up by waiting: exited or dead (its restart policy did not take it
 * back), or restarted twice since `restartsBefore` counted (a loop). One restart is let pass: a
 * cluster member may fail once while its peers are still starting (a RabbitMQ member did, in a
 * cluster started again with new credentials), and its restart policy brings it back.
 */
export function brokenContainer(
  containers: ContainerView[],
  restartsBefore: Map<string, number>,
): ContainerView | undefined {
  return containers.find(
    (c) => c.state === 'exited' || c.state === 'dead' || c.restarts - (restartsBefore.get(c.id) ?? 0) >= 2,
  );
}

/** One line for a platform whose API does not answer: each container, then the manager's warning. */
export async function containersSummary(docker: Docker, project: Project): Promise<string> {
  const containers = await projectContainers(docker, project);
  if (containers.length === 0) return `no container of project ${project.plan.name} exists`;
  const warning = await lastManagerWarning(docker, containers);
  return [containers.map(describeContainer).join(', '), warning].filter(Boolean).join('; ');
}
