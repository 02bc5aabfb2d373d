/**
 * Real workflows, against two managers (cosmo/manager) sharing a PostgreSQL and a RabbitMQ: a
 * blueprint archive whose scripts (bash and Python) use ctx, intrinsic functions and outputs read
 * from runtime properties; relationship operations; failures retried then failed; a timeout;
 * force-cancel of a running script; dry runs; Cloudify's client's string flags; bad blueprints
 * refused with the path of the problem; and a manager killed mid-execution, whose execution the
 * other manager's worker finishes.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, client } from './support/api.ts';
import { tarGz } from './support/blueprints.ts';
import { eventually, finishedExecution, type Stack, startStack } from './support/stack.ts';

const API = '/api/v3.1';
const run = promisify(execFile);
let stack: Stack;
let api: Client;

const BLUEPRINT = `tosca_definitions_version: cloudify_dsl_1_4
imports:
  - cloudify/types/types.yaml
inputs:
  greeting: {default: hello}
node_templates:
  host:
    type: cloudify.nodes.Compute
    properties: {ip: 127.0.0.1, agent_config: {install_method: none}}
  web:
    type: cloudify.nodes.WebServer
    properties:
      port: 8080
      greeting: {get_input: greeting}
    interfaces:
      cloudify.interfaces.lifecycle:
        create: scripts/create.sh
        configure:
          implementation: scripts/configure.py
          inputs:
            PORT: {get_property: [SELF, port]}
            HOST_IP: {get_property: [host, ip]}
        start:
          implementation: script.script_runner.tasks.run
          inputs: {script_path: scripts/start.sh}
    relationships:
      - type: cloudify.relationships.contained_in
        target: host
        source_interfaces:
          cloudify.interfaces.relationship_lifecycle:
            preconfigure:
              implementation: scripts/link.sh
              inputs: {TARGET_IP: {get_property: [TARGET, ip]}}
outputs:
  endpoint:
    description: where the web server answers
    value: {get_attribute: [web, endpoint]}
  greeting:
    value: {get_attribute: [web, greeting_seen]}
  banner:
    value: {concat: [{get_input: greeting}, ' on port ', {get_property: [web, port]}]}
`;

const SCRIPTS: Record<string, string> = {
  'scripts/create.sh': `#!/bin/bash
set -e
ctx logger info "creating $(ctx instance id)"
echo "running as uid $(id -u)"
`,
  'scripts/configure.py': `import os, subprocess
port = os.environ["PORT"]
subprocess.run(["ctx", "instance", "runtime-properties", "endpoint", "http://%s:%s" % (os.environ["HOST_IP"], port)], check=True)
print("configured on", port)
`,
  'scripts/start.sh': `#!/bin/bash
ctx instance runtime-properties greeting_seen "$(ctx node properties greeting)"
# The manager's secrets and environment are another user's: this must fail.
cat /run/cosmo/COSMO_DB_PASSWORD >/dev/null 2>&1 && echo "SECRET READ" || echo "manager secrets: not readable"
cat /proc/1/environ >/dev/null 2>&1 && echo "ENVIRONMENT READ" || echo "manager environment: not readable"
env | grep -c PASSWORD || true
`,
  'scripts/link.sh': `#!/bin/bash
ctx source instance runtime-properties linked_to "$TARGET_IP"
ctx logger info "linked to $(ctx target node properties ip)"
`,
  'scripts/fail.sh': `#!/bin/bash
echo "about to fail"
exit 3
`,
  'scripts/sleep.sh': `#!/bin/bash
echo "sleeping as pid $$"
sleep 300
`,
  'scripts/second.sh': `#!/bin/bash
echo "step of $(ctx instance id)"
sleep 1
`,
};

async function upload(id: string, yaml: string, extra: Record<string, string> = {}) {
  return api.raw('PUT', `${API}/blueprints/${id}?application_file_name=blueprint.yaml`, {
    raw: new Uint8Array(await tarGz({ 'bp/blueprint.yaml': yaml, ...prefixed(SCRIPTS), ...prefixed(extra) })),
    headers: { 'content-type': 'application/octet-stream' },
  });
}
const prefixed = (files: Record<string, string>) =>
  Object.fromEntries(Object.entries(files).map(([name, content]) => [`bp/${name}`, content]));

async function start(deployment: string, workflow = 'install', extra: Record<string, unknown> = {}) {
  const started = await api.post(`${API}/executions`, {
    deployment_id: deployment,
    workflow_id: workflow,
    ...extra,
  });
  expect(started.status).toBe(201);
  return started.body.id as string;
}

const finished = (id: string, timeoutMs = 120_000) => finishedExecution(api, id, timeoutMs);

interface Event {
  event_type: string | null;
  type: string;
  level: string | null;
  message: string;
  node_instance_id: string | null;
  operation: string | null;
}
async function events(executionId: string): Promise<Event[]> {
  const { body } = await api.get(`${API}/events?execution_id=${executionId}&_size=1000`);
  return body.items;
}

/** A one-node blueprint whose create is `operation`. */
const oneNode = (operation: string) =>
  `tosca_definitions_version: cloudify_dsl_1_4\nnode_templates:\n  n:\n    type: t\n    interfaces:\n      cloudify.interfaces.lifecycle:\n        create: ${operation}\n`;

async function deploy(id: string, yaml: string, inputs: Record<string, unknown> = {}) {
  expect((await upload(id, yaml)).status).toBe(201);
  expect((await api.put(`${API}/deployments/${id}`, { blueprint_id: id, inputs })).status).toBe(201);
}

beforeAll(async () => {
  stack = await startStack({}, { managers: 2 });
  api = client(stack.url, stack.admin);
});

afterAll(async () => {
  await stack?.stop();
});

describe('a blueprint with scripts', () => {
  let execution: string;
  let items: Event[];

  beforeAll(async () => {
    await deploy('web', BLUEPRINT, { greeting: 'hi there' });
    execution = await start('web');
    const done = await finished(execution);
    expect(done.error).toBe('');
    expect(done.status).toBe('terminated');
    items = await events(execution);
  });

  it('computes outputs from the runtime properties its scripts set (bash and Python)', async () => {
    const { status, body } = await api.get(`${API}/deployments/web/outputs`);
    expect(status).toBe(200);
    expect(body).toEqual({
      deployment_id: 'web',
      outputs: { endpoint: 'http://127.0.0.1:8080', greeting: 'hi there', banner: 'hi there on port 8080' },
    });
  });

  it("records ctx logger lines and the scripts' output as log events of their operation", () => {
    const logs = items.filter((e) => e.type === 'cloudify_log');
    const create = logs.find((e) => /^creating web_/.test(e.message));
    expect(create).toMatchObject({ level: 'info', operation: 'cloudify.interfaces.lifecycle.create' });
    expect(logs.map((e) => e.message)).toContain('configured on 8080');
    expect(items.filter((e) => e.event_type === 'operation_succeeded').length).toBeGreaterThanOrEqual(6);
  });

  it("gives relationship operations ctx source and ctx target, with the target's properties", async () => {
    expect(items.map((e) => e.message)).toContain('linked to 127.0.0.1');
    const { body } = await api.get(`${API}/node-instances?deployment_id=web&node_id=web`);
    expect(body.items[0].runtime_properties).toMatchObject({ linked_to: '127.0.0.1' });
  });

  it("runs scripts as a user of their own that can read neither the manager's secrets nor its environment", () => {
    const messages = items.map((e) => e.message);
    const uid = Number(/running as uid (\d+)/.exec(messages.join('\n'))?.[1]);
    expect(uid).toBeGreaterThanOrEqual(20_000);
    expect(messages).toContain('manager secrets: not readable');
    expect(messages).toContain('manager environment: not readable');
    expect(messages).not.toContain('SECRET READ');
    expect(messages).toContain('0'); // no variable named *PASSWORD* in the script's environment
  });

  it('runs uninstall in reverse order', async () => {
    const id = await start('web', 'uninstall');
    expect((await finished(id)).status).toBe('terminated');
    const order = (await events(id))
      .filter((e) => e.event_type === 'operation_succeeded')
      .map((e) => `${e.node_instance_id?.split('_')[0]}:${e.operation?.split('.').pop()}`);
    expect(order).toEqual(['web:stop', 'web:delete', 'host:stop', 'host:delete']);
  });
});

describe("Cloudify's merge, string functions and get_sys in outputs", () => {
  it('evaluates them against the deployment as it is', async () => {
    const yaml = `tosca_definitions_version: cloudify_dsl_1_4
inputs:
  hosts: {default: 'a.example,b.example'}
  base: {default: {port: 80, tls: false}}
node_templates:
  n: {type: t}
outputs:
  second: {value: {string_split: [{get_input: hosts}, ',', 1]}}
  upper: {value: {string_upper: {string_replace: [{get_input: hosts}, '.example', '']}}}
  where: {value: {string_find: [{get_input: hosts}, b]}}
  config: {value: {merge: [{get_input: base}, {tls: true}]}}
  who: {value: {concat: [{get_sys: [deployment, id]}, ' of ', {get_sys: [deployment, blueprint]}, ' by ', {get_sys: [deployment, owner]}, ' in ', {get_sys: [tenant, name]}]}}
`;
    await deploy('functions', yaml);
    const { status, body } = await api.get(`${API}/deployments/functions/outputs`);
    expect(status).toBe(200);
    expect(body.outputs).toEqual({
      second: 'b.example',
      upper: 'A,B',
      where: 10,
      config: { port: 80, tls: true },
      who: 'functions of functions by admin in default_tenant',
    });
  });
});

describe('install and uninstall narrowed to some nodes', () => {
  it('uninstalls only the nodes named by node_ids (the rest stays started); a name the deployment lacks is a 400', async () => {
    await deploy('partial', BLUEPRINT);
    expect((await finished(await start('partial'))).status).toBe('terminated');
    const ghost = await api.post(`${API}/executions`, {
      deployment_id: 'partial',
      workflow_id: 'uninstall',
      parameters: { node_ids: ['ghost'] },
    });
    expect(ghost.status).toBe(400);
    expect(ghost.body).toMatchObject({ error_code: 'bad_parameters_error' });
    expect(ghost.body.message).toContain('node_ids: ghost not in this deployment');
    const id = await start('partial', 'uninstall', { parameters: { node_ids: ['web'] } });
    expect((await finished(id)).status).toBe('terminated');
    const ran = (await events(id))
      .filter((e) => e.event_type === 'operation_succeeded')
      .map((e) => `${e.node_instance_id?.split('_')[0]}:${e.operation?.split('.').pop()}`);
    expect(ran).toEqual(['web:stop', 'web:delete']);
    const { body } = await api.get(`${API}/node-instances?deployment_id=partial&_sort=node_id`);
    expect(body.items.map((i: { node_id: string; state: string }) => [i.node_id, i.state])).toEqual([
      ['host', 'started'],
      ['web', 'deleted'],
    ]);
  });
});

describe('failures', () => {
  it('retries a failing script task_retries times, then fails naming node, operation, exit code and output', async () => {
    await deploy('failing', oneNode('scripts/fail.sh'));
    const id = await start('failing', 'install', { parameters: { task_retries: 2, task_retry_interval: 0 } });
    const done = await finished(id);
    expect(done.status).toBe('failed');
    expect(done.error).toContain('scripts/fail.sh');
    expect(done.error).toContain('cloudify.interfaces.lifecycle.create');
    expect(done.error).toContain('node n');
    expect(done.error).toContain('exit code 3');
    expect(done.error).toContain('about to fail');
    const all = await events(id);
    expect(all.filter((e) => e.event_type === 'task_started')).toHaveLength(3);
    expect(all.filter((e) => e.event_type === 'task_failed')).toHaveLength(3);
    expect(all.at(-1)?.event_type).toBe('workflow_failed');
  });

  it('uninstall stops at a failing operation, and goes past it only with ignore_failure', async () => {
    const yaml = `tosca_definitions_version: x\nnode_templates:\n  a:\n    type: t\n    interfaces:\n      cloudify.interfaces.lifecycle:\n        stop: scripts/fail.sh\n        delete: scripts/second.sh\n`;
    await deploy('teardown', yaml);
    expect((await finished(await start('teardown'))).status).toBe('terminated');
    const strict = await finished(await start('teardown', 'uninstall'));
    expect(strict.status).toBe('failed');
    expect(strict.error).toContain('cloudify.interfaces.lifecycle.stop');
    const lenient = await finished(
      await start('teardown', 'uninstall', { parameters: { ignore_failure: true } }),
    );
    expect(lenient.status).toBe('terminated');
    const all = await events(lenient.id);
    expect(all.find((e) => e.message.includes('failed and was ignored'))).toBeDefined();
    expect(all.map((e) => e.message)).toContain(
      `step of ${all.find((e) => e.node_instance_id)?.node_instance_id}`,
    );
  });

  it('fails an operation that runs past its timeout', async () => {
    await deploy('slow', oneNode('{implementation: scripts/sleep.sh, timeout: 2}'));
    const done = await finished(await start('slow'));
    expect(done.status).toBe('failed');
    expect(done.error).toContain('timed out after 2 s');
  });
});

describe('cancelling', () => {
  it('force-cancel ends the running script at once, and nothing is written after cancelled', async () => {
    await deploy('long', oneNode('scripts/sleep.sh'));
    const id = await start('long');
    const pidLine = await eventually('the script to start', async () =>
      (await events(id)).find((e) => e.message.startsWith('sleeping as pid')),
    );
    const pid = pidLine.message.split(' ').pop()!;
    const cancel = await api.post(`${API}/executions/${id}`, { action: 'force-cancel' });
    expect(cancel.status).toBe(200);
    const done = await finished(id, 30_000);
    expect(done.status).toBe('cancelled');
    // The script's process is gone on whichever manager ran it.
    for (const manager of stack.managers) {
      const probe = await manager.exec([
        'bash',
        '-c',
        `kill -0 ${pid} 2>/dev/null && cat /proc/${pid}/cmdline`,
      ]);
      expect(probe.output).not.toContain('sleep');
    }
    const count = (await events(id)).length;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const after = await events(id);
    expect(after).toHaveLength(count);
    expect(after.at(-1)?.event_type).toBe('workflow_cancelled');
  });

  it('dry_run runs the workflow with every operation logged and skipped', async () => {
    await deploy('dry', BLUEPRINT);
    const id = await start('dry', 'install', { dry_run: true });
    const done = await finished(id);
    expect(done).toMatchObject({ status: 'terminated', is_dry_run: true });
    const all = await events(id);
    expect(all.filter((e) => e.event_type === 'task_started')).toHaveLength(0);
    expect(all.find((e) => e.message.includes('scripts/create.sh not run'))).toBeDefined();
    expect((await api.get(`${API}/deployments/dry/outputs`)).body.outputs.endpoint).toBeNull();
  });
});

describe("Cloudify's REST client", () => {
  it('may send its flags as "true"/"false" and null for what it does not use', async () => {
    await deploy('client', oneNode('scripts/second.sh'));
    const started = await api.post(`${API}/executions`, {
      deployment_id: 'client',
      workflow_id: 'install',
      parameters: null,
      allow_custom_parameters: 'false',
      force: 'false',
      dry_run: 'false',
      queue: 'false',
      scheduled_time: null,
      wait_after_fail: 600,
      force_status: null,
      created_by: null,
      created_at: null,
      started_at: null,
      ended_at: null,
      id: null,
      execution_group_id: null,
    });
    expect(started.status).toBe(201);
    expect((await finished(started.body.id)).status).toBe('terminated');
  });
});

describe('bad blueprints', () => {
  it.each([
    [
      'a script outside the archive',
      oneNode('../../etc/passwd'),
      /node_templates\.n\.interfaces\.cloudify\.interfaces\.lifecycle\.create\.implementation: '\.\.\/\.\.\/etc\/passwd' is outside the blueprint archive/,
    ],
    [
      'a script missing from the archive',
      oneNode('scripts/nope.sh'),
      /create\.implementation: 'scripts\/nope\.sh' is not in the blueprint archive/,
    ],
    [
      'an unknown intrinsic function',
      'tosca_definitions_version: x\nnode_templates:\n  n: {type: t, properties: {p: {get_attribut: [SELF, x]}}}\n',
      /node_templates\.n\.properties\.p: unknown intrinsic function get_attribut/,
    ],
    [
      'get_input of an unknown input',
      'tosca_definitions_version: x\nnode_templates:\n  n: {type: t, properties: {p: {get_input: missing}}}\n',
      /node_templates\.n\.properties\.p\.get_input: 'missing' is not a declared input/,
    ],
    [
      'a circular get_attribute',
      'tosca_definitions_version: x\nnode_templates:\n  a: {type: t, properties: {x: {get_attribute: [b, y]}}}\n  b: {type: t, properties: {y: {get_attribute: [a, x]}}}\n',
      /circular get_attribute: node_templates\.a\.properties\.x -> node_templates\.b\.properties\.y -> node_templates\.a\.properties\.x/,
    ],
    [
      'a plugin task',
      oneNode('ansible.cloudify_ansible.tasks.run'),
      /is a plugin task; this manager runs scripts from the blueprint archive only/,
    ],
  ])('refuses %s with a 400 naming where', async (_what, yaml, message) => {
    const answer = await upload(`bad-${Math.random().toString(36).slice(2, 8)}`, yaml);
    expect(answer.status).toBe(400);
    expect(answer.body.error_code).toBe('invalid_blueprint_error');
    expect(answer.body.message).toMatch(message);
  });
});

describe('maintenance mode', () => {
  it('refuses new executions and writes with 503 while reads and status keep working, on every manager', async () => {
    await deploy('maint', oneNode('scripts/second.sh'));
    const activated = await api.post(`${API}/maintenance/activate`, {});
    expect(activated.status).toBe(200);
    expect(activated.body.status).toMatch(/^activat(ed|ing)$/);
    try {
      for (const manager of stack.managers) {
        const other = client(`http://${manager.getHost()}:${manager.getMappedPort(8080)}`, stack.admin);
        const refused = await eventually(
          'maintenance to reach every manager',
          async () => {
            const answer = await other.post(`${API}/executions`, {
              deployment_id: 'maint',
              workflow_id: 'install',
            });
            return answer.status === 503 ? answer : undefined;
          },
          5_000,
        );
        expect(refused.body.error_code).toBe('maintenance_mode_active');
        expect((await other.put(`${API}/deployments/maint2`, { blueprint_id: 'maint' })).status).toBe(503);
        expect((await other.get(`${API}/blueprints/maint`)).status).toBe(200);
        expect((await other.get(`${API}/status`)).body.status).toBe('OK');
        expect((await other.get(`${API}/maintenance`)).body.status).toBe('activated');
      }
    } finally {
      expect((await api.post(`${API}/maintenance/deactivate`, {})).body.status).toBe('deactivated');
    }
    await eventually(
      'executions accepted again',
      async () => {
        const answer = await api.post(`${API}/executions`, {
          deployment_id: 'maint',
          workflow_id: 'install',
        });
        return answer.status === 201 ? answer : undefined;
      },
      5_000,
    );
  });
});

describe('broker health', () => {
  it('is an AMQP-level check that reports the broker version', async () => {
    const { body } = await api.get(`${API}/cluster-status`);
    const nodes = Object.values(body.services.broker.nodes) as {
      status: string;
      version: string;
      services: object;
    }[];
    expect(nodes).toHaveLength(1);
    expect(nodes[0]).toMatchObject({ status: 'OK', services: { RabbitMQ: 'Active' } });
    expect(nodes[0]!.version).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('two managers, one killed mid-execution', () => {
  it("the other manager's worker finishes the execution, with no event lost or doubled", async () => {
    const nodes = Array.from(
      { length: 12 },
      (_, i) =>
        `  n${i}:\n    type: t\n    interfaces:\n      cloudify.interfaces.lifecycle:\n        create: scripts/second.sh`,
    ).join('\n');
    await deploy('handover', `tosca_definitions_version: x\nnode_templates:\n${nodes}\n`);
    const id = await start('handover');
    await eventually('a few operations done', async () =>
      (await events(id)).filter((e) => e.event_type === 'operation_succeeded').length >= 4 ? true : undefined,
    );
    // The manager running it is the one with an operation's folder.
    const running = await eventually('the manager running the execution', async () => {
      for (const manager of stack.managers) {
        const listing = await manager.exec(['bash', '-c', 'ls /tmp/cosmo-operations 2>/dev/null']);
        if (/op-/.test(listing.output)) return manager;
      }
      return undefined;
    });
    const survivor = stack.managers.find((m) => m !== running)!;
    await run('docker', ['kill', running.getId()]);
    const other = client(`http://${survivor.getHost()}:${survivor.getMappedPort(8080)}`, stack.admin);
    const done = await eventually(
      'the other manager to finish it',
      async () => {
        const { body } = await other.get(`${API}/executions/${id}`);
        return ['terminated', 'failed', 'cancelled'].includes(body?.status) ? body : undefined;
      },
      120_000,
    );
    expect(done.status).toBe('terminated');
    const { body } = await other.get(`${API}/events?execution_id=${id}&_size=1000`);
    const all = body.items as Event[];
    // Each operation succeeded exactly once; the interrupted one may have started twice (Cloudify's
    // semantics: an operation may run again), each try with its own events.
    const succeeded = all
      .filter((e) => e.event_type === 'operation_succeeded')
      .map((e) => `${e.node_instance_id}|${e.operation}`);
    expect(succeeded).toHaveLength(36);
    expect(new Set(succeeded).size).toBe(36);
    expect(all.filter((e) => e.event_type === 'workflow_succeeded')).toHaveLength(1);
    const started = all.filter((e) => e.event_type === 'task_started').map((e) => e.message);
    expect(new Set(started).size).toBe(started.length);
    expect(started.length).toBeGreaterThanOrEqual(12);
    expect(started.length).toBeLessThanOrEqual(13);
  });
});
