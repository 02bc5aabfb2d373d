/**
 * The red-team suite on the All-in-One: a blueprint's script, the least trusted code the platform
 * runs, attacks the manager that runs it. Each test performs an attack as an author could and
 * asserts it fails: gaining privilege or reading a secret, flooding ctx to get the manager killed
 * for memory, and an operation whose worker dies every time it runs. The cluster modes meet the
 * same privilege attack in test/distributed.test.ts and test/compact.test.ts.
 */
import Docker from 'dockerode';
import { GenericContainer, type StartedTestContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, aioReady, psql, removeVolume, startAio } from './support/aio.ts';
import type { Client } from './support/api.ts';
import {
  allAre,
  endpoints,
  expectNoBackendReach,
  expectNoPrivilege,
  expectTlsRefused,
  NETWORK_PROBE,
  PRIVILEGE_PROBE,
  reachableAsManager,
  runAttack,
  secretFiles,
  tlsAttacks,
} from './support/attacks.ts';
import { eventually } from './support/stack.ts';

const API = '/api/v3.1';
const docker = new Docker();

/** Opens 700 ctx connections with 1 MB each and holds them: without bounds, ~700 MB in the manager. */
const CTX_FLOOD = `#!/usr/bin/python3
import os, socket, sys, time
path = os.environ["CTX_SOCKET_URL"][len("unix://"):]
chunk = b"x" * (1024 * 1024)
held, refused = [], 0
for i in range(700):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    try:
        s.connect(path)
        s.sendall(chunk)
        held.append(s)
    except OSError:
        refused += 1
        s.close()
print("held %d refused %d" % (len(held), refused))
time.sleep(2)
sys.exit(1 if refused else 0)
`;

/** Forks until the kernel refuses, then reports how many children it got. */
const FORK_BOMB = `#!/usr/bin/python3
import os, sys, time
children = 0
try:
    for _ in range(5000):
        if os.fork() == 0:
            os.close(1)  # the operation ends with the parent; its group is killed then
            os.close(2)
            time.sleep(30)
            os._exit(0)
        children += 1
except OSError as error:
    print("fork refused after %d children: %s" % (children, error), flush=True)
    sys.exit(1)
print("forked %d children" % children, flush=True)
`;

/** Writes a 2 GB file, 1 MB at a time. */
const BIG_FILE = `#!/usr/bin/python3
import sys
written = 0
try:
    with open("big", "wb") as out:
        for _ in range(2048):
            out.write(b"\\0" * (1 << 20))
            out.flush()
            written += 1
except OSError as error:
    print("write refused after %d MB: %s" % (written, error), flush=True)
    sys.exit(1)
print("wrote %d MB" % written, flush=True)
`;

/** Takes 4 GB of memory at once. */
const MEMORY_HOG = `#!/usr/bin/python3
import sys
try:
    hog = bytearray(4 * 1024 ** 3)
except MemoryError:
    print("allocation refused", flush=True)
    sys.exit(1)
print("holding %d bytes" % len(hog), flush=True)
`;

const SLEEPER = `#!/bin/bash
echo "sleeping as pid $$"
sleep 600
`;

describe('a blueprint script on the All-in-One', () => {
  const volume = `cosmo-itest-security-${process.pid}`;
  let container: StartedTestContainer;
  let api: Client;
  let url: string;

  const exec = async (cmd: string[]) => {
    const { output, exitCode } = await container.exec(cmd);
    if (exitCode !== 0) throw new Error(`${cmd.join(' ')} exited ${exitCode}: ${output}`);
    return output;
  };
  /** The manager's process id (runit starts a new one when it dies). */
  const managerPid = async () => (await exec(['pgrep', '-f', 'manager.mjs'])).trim().split('\n')[0]!;

  beforeAll(async () => {
    await docker.createVolume({ Name: volume, Labels: { 'io.cosmo.test': 'security' } });
    container = await startAio(volume);
    ({ api, url } = await adminClient(container));
  });

  afterAll(async () => {
    await container?.stop();
    await removeVolume(volume);
  });

  it('speaks HTTPS only, and a client trusting its CA refuses a wrong name and an impostor from another CA', async () => {
    expect(url).toMatch(/^https:/);
    expect((await api.get(`${API}/status`)).status).toBe(200);
    expectTlsRefused(await tlsAttacks(url));
  });

  it('starts with no capability and no_new_privs, cannot become root, and reads no secret', async () => {
    const targets = await secretFiles(exec);
    // The All-in-One's generated credentials and the manager's copies are among them.
    expect(targets).toContain('/var/lib/cosmo/secrets/admin_password');
    expect(targets).toContain('/var/lib/cosmo/secrets/secrets_key');
    expect(targets.some((file) => file.startsWith('/run/cosmo/'))).toBe(true);
    const run = await runAttack(api, 'probe', PRIVILEGE_PROBE, { TARGETS: targets.join(' ') });
    expectNoPrivilege(run, targets);
  });

  it("cannot reach PostgreSQL, RabbitMQ, epmd or Erlang distribution, which the manager's own user reaches", async () => {
    const backends = endpoints(['127.0.0.1', 'localhost'], [5432, 5672, 4369, 25672]);
    // localhost may resolve to ::1, where nothing listens: the control uses 127.0.0.1 only.
    const live = endpoints(['127.0.0.1'], [5432, 5672, 4369, 25672]);
    expect(await reachableAsManager(exec, live)).toEqual(allAre(live, 'open'));
    expectNoBackendReach(
      await runAttack(api, 'reach', NETWORK_PROBE, { ENDPOINTS: backends.join(' ') }),
      backends,
    );
  });

  it('cannot flood ctx into the manager: connections beyond the bound are refused, the manager stays up', async () => {
    const before = await managerPid();
    const run = await runAttack(api, 'flood', CTX_FLOOD);
    const report = run.lines.find((line) => line.startsWith('held '));
    const [, held, , refused] = report?.split(' ') ?? [];
    expect(Number(held)).toBeLessThanOrEqual(16);
    expect(Number(refused)).toBeGreaterThanOrEqual(700 - 16);
    // The script's operation fails, the execution ends failed, once; the same manager serves on.
    expect(run.execution.status).toBe('failed');
    expect(run.events.filter((event) => event.event_type === 'workflow_failed')).toHaveLength(1);
    expect(await managerPid()).toBe(before);
    expect((await api.get(`${API}/status`)).body.status).toBe('OK');
  });

  it('stops a fork bomb, a 2 GB file and a memory hog at their limits: each fails its operation, the manager serves on', async () => {
    const before = await managerPid();
    const bomb = await runAttack(api, 'fork-bomb', FORK_BOMB);
    expect(bomb.execution.status).toBe('failed');
    const forked = bomb.lines.find((line) => line.startsWith('fork refused after '));
    expect(forked, bomb.lines.join('\n')).toBeDefined();
    expect(Number(forked?.split(' ')[3])).toBeLessThan(256);
    const file = await runAttack(api, 'big-file', BIG_FILE);
    expect(file.execution.status).toBe('failed');
    const written = file.lines.find((line) => line.startsWith('write refused after '));
    expect(written, file.lines.join('\n')).toBeDefined();
    expect(Number(written?.split(' ')[3])).toBeLessThanOrEqual(512);
    const hog = await runAttack(api, 'memory-hog', MEMORY_HOG);
    expect(hog.execution.status).toBe('failed');
    expect(hog.lines).toContain('allocation refused');
    expect(await managerPid()).toBe(before);
    expect((await api.get(`${API}/status`)).body.status).toBe('OK');
  });

  it("gives the manager's database role and broker user no more than they need", async () => {
    const role = await psql(
      container,
      "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, (SELECT count(*) FROM pg_auth_members WHERE member = r.oid) FROM pg_roles r WHERE rolname = 'cosmo'",
    );
    expect(role).toBe('f|f|f|f|f|0');
    // One broker user, without the administrator tag (and no default guest user).
    const users = JSON.parse(await exec(['rabbitmqctl', '-q', 'list_users', '--formatter', 'json'])) as {
      user: string;
      tags: string[];
    }[];
    expect(users).toEqual([{ user: 'cosmo', tags: [] }]);
  });

  it('keeps secret values sealed at rest: the database holds neither the value nor the key', async () => {
    const value = 'Sealed-at-rest-1234';
    const created = await api.put(`${API}/secrets/at_rest`, { value });
    expect(created.status, created.text).toBe(201);
    const stored = await psql(container, "SELECT value FROM secrets WHERE key = 'at_rest'", 'cosmo');
    expect(stored).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(stored).not.toContain(value);
    const key = (await exec(['cat', '/var/lib/cosmo/secrets/secrets_key'])).trim();
    expect(key.length).toBeGreaterThanOrEqual(32);
    const dump = await psql(container, 'SELECT string_agg(t::text, chr(10)) FROM secrets t', 'cosmo');
    expect(dump).not.toContain(key);
    expect((await api.get(`${API}/secrets/at_rest`)).body.value).toBe(value);
  });

  it('runs the code of the blueprint as uploaded now, never a deleted one of the same id', async () => {
    const version = (n: number) => `#!/bin/bash\necho "script version ${n}"\n`;
    const first = await runAttack(api, 'reuploaded', version(1));
    expect(first.lines).toContain('script version 1');
    // Installed: refused until uninstalled, unless forced (Cloudify's answer).
    const live = await api.del(`${API}/deployments/reuploaded`);
    expect(live.status).toBe(400);
    expect(live.body.error_code).toBe('dependent_exists_error');
    expect(live.body.message).toContain('Deployment still has active nodes (target_');
    expect((await api.del(`${API}/deployments/reuploaded?force=True`)).status).toBe(204);
    expect((await api.del(`${API}/blueprints/reuploaded`)).status).toBe(204);
    const second = await runAttack(api, 'reuploaded', version(2));
    expect(second.lines).toContain('script version 2');
    expect(second.lines).not.toContain('script version 1');
  });

  it('fails an operation whose worker dies each time it runs, instead of killing the next worker', async () => {
    // As an operation that gets its manager killed for memory would: its worker dies mid-run, the
    // broker redelivers the execution, and the operation runs again. Here the manager is killed.
    const started = runAttack(api, 'sleeper', SLEEPER);
    const runsOf = async () => {
      const { body } = await api.get(`${API}/executions?deployment_id=sleeper`);
      const id = body.items?.[0]?.id as string | undefined;
      if (!id) return 0;
      const events = await api.get(`${API}/events?execution_id=${id}&_size=1000`);
      return (events.body.items as { event_type: string }[]).filter((e) => e.event_type === 'task_started')
        .length;
    };
    for (let run = 1; run <= 3; run++) {
      await eventually(
        `run ${run} of the operation`,
        async () => ((await runsOf()) === run ? true : undefined),
        120_000,
      );
      // runit ends the container when a service dies 3 times in a row within 10 s of its start:
      // kill a manager that has run longer, as a worker dying at work would have.
      const pid = await managerPid();
      await eventually(
        'the manager to have run 11 s',
        async () => (Number(await exec(['ps', '-o', 'etimes=', '-p', pid])) >= 11 ? true : undefined),
        30_000,
        500,
      );
      await exec(['kill', '-KILL', pid]);
    }
    const { execution, events } = await started;
    expect(execution.status).toBe('failed');
    expect(execution.error).toMatch(/interrupted 3 times/);
    expect(events.filter((event) => event.event_type === 'task_started')).toHaveLength(3);
    expect(events.filter((event) => event.event_type === 'workflow_failed')).toHaveLength(1);
  });
});

describe('an All-in-One started without the capability to confine scripts (a bare docker run)', () => {
  const volume = `cosmo-itest-unconfined-${process.pid}`;
  let container: StartedTestContainer | undefined;

  afterAll(async () => {
    await container?.stop();
    await removeVolume(volume);
  });

  it('serves, but refuses to run a script and says why', async () => {
    // Docker's default capabilities: no NET_ADMIN, so the egress rules cannot be set.
    container = await new GenericContainer('cosmo/aio:latest')
      .withBindMounts([{ source: volume, target: '/var/lib/cosmo' }])
      .withExposedPorts(8080)
      .withWaitStrategy(aioReady())
      .withStartupTimeout(180_000)
      .start();
    const { api } = await adminClient(container);
    const run = await runAttack(api, 'unconfined', '#!/bin/bash\necho "ran unconfined"\n');
    expect(run.execution.status).toBe('failed');
    expect(run.execution.error).toContain('could not close the platform');
    expect(run.lines).not.toContain('ran unconfined');
    const logs = await docker.getContainer(container.getId()).logs({ stdout: true, stderr: true });
    expect(logs.toString()).toContain("cannot set the scripts' egress rules");
  });
});

describe('a credential statement that fails', () => {
  it('is reported without the password it carried (PostgreSQL, single-user mode)', async () => {
    const volume = `cosmo-itest-pgsecret-${process.pid}`;
    const password = `pw-${Math.random().toString(36).slice(2)}-x`;
    const run = async (user: string) => {
      const container = await docker.createContainer({
        Image: 'cosmo/postgres:latest',
        Env: [`POSTGRES_USER=${user}`, 'POSTGRES_PASSWORD_FILE=/run/secrets/db'],
        Entrypoint: [
          'bash',
          '-c',
          `printf %s '${password}' >/run/secrets/db; exec /usr/bin/tini -- postgres-entrypoint true`,
        ],
        HostConfig: { Binds: [`${volume}:/var/lib/postgresql/data`], Tmpfs: { '/run/secrets': '' } },
      });
      try {
        await container.start();
        const { StatusCode } = await container.wait();
        const logs = (await container.logs({ stdout: true, stderr: true })).toString();
        return { code: StatusCode as number, logs };
      } finally {
        await container.remove({ force: true });
      }
    };
    try {
      expect((await run('cosmo')).code).toBe(0);
      // The data was made for `cosmo`: setting the password of a role that does not exist fails.
      const failed = await run('nobody');
      expect(failed.code).not.toBe(0);
      expect(failed.logs).toMatch(/role "nobody" does not exist/);
      expect(failed.logs).not.toContain(password);
    } finally {
      await removeVolume(volume);
    }
  });
});
