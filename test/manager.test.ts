/**
 * The manager against real containers of cosmo/postgres and cosmo/rabbitmq: the API a Cloudify
 * client expects, an execution round trip, the broker and the database restarted under it, bad
 * input of every kind, and lock-out.
 */

import Docker from 'dockerode';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { psql } from './support/aio.ts';
import { type Client, client } from './support/api.ts';
import { tarGz } from './support/blueprints.ts';
import { eventually, finishedExecution, type Stack, startStack } from './support/stack.ts';

const API = '/api/v3.1';
let stack: Stack;
let api: Client;
let anonymous: Client;
const docker = new Docker();

const BLUEPRINT = `
tosca_definitions_version: cloudify_dsl_1_4
description: a web app on a database on a host
inputs:
  port: {type: integer, default: 8080}
node_templates:
  host: {type: cloudify.nodes.Compute}
  database: {type: cloudify.nodes.DBMS, relationships: [{type: cloudify.relationships.contained_in, target: host}]}
  app:
    type: cloudify.nodes.WebServer
    properties: {port: {get_input: port}}
    relationships:
      - {type: cloudify.relationships.contained_in, target: host}
      - {type: cloudify.relationships.connected_to, target: database}
outputs:
  endpoint: {value: app}
`;

function multipart(archive: Buffer, params: string | undefined, fileName = 'blueprint.tar.gz'): FormData {
  const form = new FormData();
  if (params !== undefined) form.append('params', params);
  form.append('blueprint_archive', new Blob([new Uint8Array(archive)]), fileName);
  return form;
}

const finished = (id: string, timeoutMs = 60_000) => finishedExecution(api, id, timeoutMs);

async function events(executionId: string) {
  const { status, body } = await api.get(`${API}/events?execution_id=${executionId}&_size=1000`);
  expect(status).toBe(200);
  return body.items as { event_type: string; node_instance_id: string | null; operation: string | null }[];
}

function expectNoDuplicates(
  items: { event_type: string; node_instance_id: string | null; operation: string | null }[],
) {
  const keys = items.map((e) => `${e.event_type}|${e.node_instance_id}|${e.operation}`);
  expect(new Set(keys).size).toBe(keys.length);
}

beforeAll(async () => {
  // A short simulated time per operation makes executions long enough to interrupt.
  stack = await startStack({
    COSMO_STEP_DELAY_MS: '150',
    COSMO_LOCKOUT_SECONDS: '3',
    COSMO_MAX_UPLOAD_BYTES: '65536',
  });
  api = client(stack.url, stack.admin);
  anonymous = client(stack.url);
});

afterAll(async () => {
  await stack?.stop();
});

describe('without credentials', () => {
  it('answers /ok with the JSON string "OK" and nothing else without auth, as Cloudify does', async () => {
    const ok = await anonymous.get(`${API}/ok`);
    expect(ok.status).toBe(200);
    expect(ok.contentType).toMatch(/^application\/json/);
    expect(ok.text).toBe('"OK"');
    expect(JSON.parse(ok.text)).toBe('OK');
  });

  it.each([
    ['GET', '/status'],
    ['GET', '/cluster-status'],
    ['GET', '/version'],
    ['GET', '/maintenance'],
    ['POST', '/tokens'],
    ['GET', '/tokens'],
    ['GET', '/tokens/abc'],
    ['DELETE', '/tokens/abc'],
    ['GET', '/managers'],
    ['GET', '/brokers'],
    ['GET', '/db-nodes'],
    ['PUT', '/blueprints/x'],
    ['GET', '/blueprints'],
    ['GET', '/blueprints/x'],
    ['DELETE', '/blueprints/x'],
    ['PUT', '/deployments/x'],
    ['GET', '/deployments'],
    ['DELETE', '/deployments/x'],
    ['POST', '/executions'],
    ['GET', '/executions'],
    ['GET', '/executions/x'],
    ['POST', '/executions/x'],
    ['GET', '/events'],
  ])('%s %s is 401 with the error body', async (method, path) => {
    const answer = await anonymous.raw(method, `${API}${path}`);
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ error_code: 'unauthorized_error', server_traceback: null });
    expect(answer.body.message).toContain('No authentication info');
  });

  it('guards the unversioned /api/version too', async () => {
    expect((await anonymous.get('/api/version')).status).toBe(401);
  });
});

describe('status and cluster', () => {
  it('reports every service of this node active', async () => {
    const { status, body } = await api.get(`${API}/status`);
    expect(status).toBe(200);
    expect(body.status).toBe('OK');
    for (const name of ['Manager Rest-Service', 'PostgreSQL', 'RabbitMQ', 'Workflow Worker']) {
      expect(body.services[name].status).toBe('Active');
    }
    expect((await api.get(`${API}/status?summary=true`)).body).toEqual({ status: 'OK', services: {} });
  });

  it('reports the cluster OK with manager, db and broker nodes', async () => {
    const body = await eventually('cluster-status OK', async () => {
      const answer = await api.get(`${API}/cluster-status`);
      return answer.body.status === 'OK' ? answer.body : undefined;
    });
    expect(Object.keys(body.services).sort()).toEqual(['broker', 'db', 'manager']);
    expect(body.services.manager.nodes['manager-1']).toMatchObject({
      status: 'OK',
      failures: [],
      version: '0.1.0',
    });
    expect(body.services.db).toMatchObject({ is_external: false, status: 'OK' });
    expect(body.services.broker.nodes.mq.status).toBe('OK');
    expect((await api.get(`${API}/cluster-status?summary=true`)).body).toEqual({
      status: 'OK',
      services: {},
    });
  });

  it('answers version, maintenance and the member lists', async () => {
    const version = await api.get(`${API}/version`);
    expect(version.body).toMatchObject({
      edition: 'community',
      version: '0.1.0',
      distribution: 'debian',
      distro_release: 'trixie',
    });
    expect((await api.get('/api/version')).body).toEqual(version.body);
    expect((await api.get(`${API}/maintenance`)).body.status).toBe('deactivated');
    expect(
      (await api.get(`${API}/managers`)).body.items.map((m: { hostname: string }) => m.hostname),
    ).toEqual(['manager-1']);
    expect((await api.get(`${API}/brokers`)).body.items[0]).toMatchObject({ host: 'mq', port: 5672 });
    expect((await api.get(`${API}/db-nodes`)).body.items[0]).toMatchObject({ host: 'db' });
  });
});

describe('tokens', () => {
  it('creates a token whose secret is shown once, authenticates with it, and deletes it', async () => {
    const created = await api.post(`${API}/tokens`, { description: 'ci' });
    expect(created.status).toBe(200);
    expect(created.body.value).toMatch(/^ctok-[A-Za-z0-9]{10}-[A-Za-z0-9]{40}$/);
    expect(created.body).toMatchObject({ username: 'admin', role: 'sys_admin', description: 'ci' });
    const withToken = client(stack.url, { 'authentication-token': created.body.value });
    expect((await withToken.get(`${API}/status`)).status).toBe(200);
    const shown = await api.get(`${API}/tokens/${created.body.id}`);
    expect(shown.body.id).toBe(created.body.id);
    expect(shown.body.value).toBeUndefined();
    expect(
      (await api.get(`${API}/tokens`)).body.items.some((t: { id: string }) => t.id === created.body.id),
    ).toBe(true);
    expect((await api.del(`${API}/tokens/${created.body.id}`)).status).toBe(204);
    const refused = await withToken.get(`${API}/status`);
    expect(refused.status).toBe(401);
    expect(refused.body.error_code).toBe('unauthorized_error');
  });

  it('refuses a token once it has expired', async () => {
    const created = await api.post(`${API}/tokens`, {
      expiration_date: new Date(Date.now() + 1_500).toISOString(),
    });
    const withToken = client(stack.url, { 'authentication-token': created.body.value });
    expect((await withToken.get(`${API}/version`)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const expired = await withToken.get(`${API}/version`);
    expect(expired.status).toBe(401);
    expect(expired.body.message).toContain('expired');
  });
});

describe('blueprints, deployments and executions', () => {
  it('uploads a blueprint as the Cloudify client does (multipart .tar.gz), as .zip and as plain YAML', async () => {
    const archive = await tarGz({ 'webapp/blueprint.yaml': BLUEPRINT, 'webapp/README': 'x' });
    const tgz = await api.raw('PUT', `${API}/blueprints/webapp`, {
      raw: multipart(
        archive,
        JSON.stringify({ application_file_name: 'blueprint.yaml', visibility: 'tenant' }),
      ),
    });
    expect(tgz.status).toBe(201);
    expect(tgz.body).toMatchObject({
      id: 'webapp',
      main_file_name: 'blueprint.yaml',
      tenant_name: 'default_tenant',
      state: 'uploaded',
    });
    expect(tgz.body.plan.installOrder).toEqual(['host', 'database', 'app']);

    const zip = Buffer.from(zipSync({ 'bp/main.yaml': new TextEncoder().encode(BLUEPRINT) }));
    const zipped = await api.raw('PUT', `${API}/blueprints/zipped`, {
      raw: multipart(zip, JSON.stringify({ application_file_name: 'main.yaml' }), 'bp.zip'),
    });
    expect(zipped.status).toBe(201);

    const yaml = await api.raw('PUT', `${API}/blueprints/plain`, {
      raw: BLUEPRINT,
      headers: { 'content-type': 'application/yaml' },
    });
    expect(yaml.status).toBe(201);

    const list = await api.get(`${API}/blueprints?_sort=-id&_include=id,main_file_name&_size=2`);
    expect(list.body).toEqual({
      items: [
        { id: 'zipped', main_file_name: 'main.yaml' },
        { id: 'webapp', main_file_name: 'blueprint.yaml' },
      ],
      metadata: { pagination: { offset: 0, size: 2, total: 3 } },
    });
    expect(
      (await api.get(`${API}/blueprints?_offset=2`)).body.items.map((b: { id: string }) => b.id),
    ).toEqual(['plain']);
  });

  it('runs install and uninstall end to end, one event per lifecycle operation', async () => {
    const deployment = await api.put(`${API}/deployments/web1`, {
      blueprint_id: 'webapp',
      inputs: { port: 9090 },
    });
    expect(deployment.status).toBe(201);
    expect(deployment.body).toMatchObject({ id: 'web1', blueprint_id: 'webapp', inputs: { port: 9090 } });

    const started = await api.post(`${API}/executions`, { deployment_id: 'web1', workflow_id: 'install' });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ workflow_id: 'install', deployment_id: 'web1', status: 'pending' });
    const install = await finished(started.body.id);
    expect(install.status).toBe('terminated');
    expect(install.started_at).not.toBeNull();
    const installEvents = await events(started.body.id);
    expect(installEvents.map((e) => e.event_type)).toEqual([
      'workflow_started',
      ...Array(9).fill('operation_succeeded'),
      'workflow_succeeded',
    ]);
    expect(
      installEvents
        .filter((e) => e.operation)
        .map((e) => `${e.node_instance_id?.split('_')[0]}.${e.operation?.split('.').pop()}`),
    ).toEqual([
      'host.create',
      'host.configure',
      'host.start',
      'database.create',
      'database.configure',
      'database.start',
      'app.create',
      'app.configure',
      'app.start',
    ]);
    const instances = await api.get(`${API}/node-instances?deployment_id=web1`);
    expect(instances.body.items.map((i: { state: string }) => i.state)).toEqual([
      'started',
      'started',
      'started',
    ]);

    const uninstall = await api.post(`${API}/executions`, {
      deployment_id: 'web1',
      workflow_id: 'uninstall',
    });
    expect((await finished(uninstall.body.id)).status).toBe('terminated');
    expect((await events(uninstall.body.id)).filter((e) => e.operation)[0]?.node_instance_id).toMatch(
      /^app_/,
    );

    const list = await api.get(`${API}/executions?deployment_id=web1&_sort=created_at`);
    expect(list.body.items.map((e: { workflow_id: string }) => e.workflow_id)).toEqual([
      'install',
      'uninstall',
    ]);
    expect((await api.get(`${API}/deployments/web1`)).body.latest_execution_status).toBe('terminated');
  });

  it('cancels a running execution', async () => {
    await api.put(`${API}/deployments/web-cancel`, { blueprint_id: 'webapp' });
    const started = await api.post(`${API}/executions`, {
      deployment_id: 'web-cancel',
      workflow_id: 'install',
    });
    await eventually('the execution to start', async () =>
      (await api.get(`${API}/executions/${started.body.id}`)).body.status === 'started' ? true : undefined,
    );
    const cancelling = await api.post(`${API}/executions/${started.body.id}`, { action: 'cancel' });
    expect(cancelling.status).toBe(200);
    expect(['cancelling', 'cancelled']).toContain(cancelling.body.status);
    expect((await finished(started.body.id)).status).toBe('cancelled');
  });

  it('deletes a deployment, then its blueprint', async () => {
    const inUse = await api.del(`${API}/blueprints/webapp`);
    expect(inUse.status).toBe(400);
    expect(inUse.body.error_code).toBe('dependent_exists_error');
    // Cancelled mid-install: whatever it installed is deleted with force, as in Cloudify.
    expect((await api.del(`${API}/deployments/web-cancel?force=true`)).status).toBe(204);
    expect((await api.del(`${API}/deployments/web1`)).status).toBe(204);
    expect((await api.del(`${API}/blueprints/webapp`)).status).toBe(204);
    expect((await api.get(`${API}/blueprints/webapp`)).status).toBe(404);
  });
});

describe('bad input', () => {
  const longId = 'x'.repeat(300);
  const cases: [string, () => Promise<{ status: number; body: any }>, number, string][] = [
    [
      'malformed JSON',
      () =>
        api.raw('POST', `${API}/executions`, {
          raw: '{bad',
          headers: { 'content-type': 'application/json' },
        }),
      400,
      'bad_parameters_error',
    ],
    ['a JSON array body', () => api.post(`${API}/executions`, [1, 2]), 400, 'bad_parameters_error'],
    [
      'an empty JSON body',
      () =>
        api.raw('POST', `${API}/executions`, { raw: '', headers: { 'content-type': 'application/json' } }),
      400,
      'bad_parameters_error',
    ],
    [
      'deployment_id of the wrong type',
      () => api.post(`${API}/executions`, { deployment_id: 5, workflow_id: 'install' }),
      400,
      'bad_parameters_error',
    ],
    [
      'a missing workflow_id',
      () => api.post(`${API}/executions`, { deployment_id: 'x' }),
      400,
      'bad_parameters_error',
    ],
    [
      'an unknown workflow',
      () => api.post(`${API}/executions`, { deployment_id: 'x', workflow_id: 'heal' }),
      400,
      'nonexistent_workflow_error',
    ],
    [
      'an unknown deployment',
      () => api.post(`${API}/executions`, { deployment_id: 'ghost', workflow_id: 'install' }),
      404,
      'not_found_error',
    ],
    [
      'an unknown execution id',
      () => api.get(`${API}/executions/00000000-0000-0000-0000-000000000000`),
      404,
      'not_found_error',
    ],
    ['a malformed execution id', () => api.get(`${API}/executions/not-a-uuid`), 404, 'not_found_error'],
    [
      'an unknown cancel action',
      () => api.post(`${API}/executions/00000000-0000-0000-0000-000000000000`, { action: 'explode' }),
      400,
      'bad_parameters_error',
    ],
    ['an unknown blueprint', () => api.get(`${API}/blueprints/ghost`), 404, 'not_found_error'],
    ['an unknown deployment GET', () => api.get(`${API}/deployments/ghost`), 404, 'not_found_error'],
    ['an unknown token', () => api.get(`${API}/tokens/ghost`), 404, 'not_found_error'],
    [
      'an invalid blueprint id',
      () =>
        api.raw('PUT', `${API}/blueprints/bad%20id`, {
          raw: BLUEPRINT,
          headers: { 'content-type': 'application/yaml' },
        }),
      400,
      'bad_parameters_error',
    ],
    [
      'a too long blueprint id',
      () =>
        api.raw('PUT', `${API}/blueprints/${longId}`, {
          raw: BLUEPRINT,
          headers: { 'content-type': 'application/yaml' },
        }),
      400,
      'bad_parameters_error',
    ],
    [
      'bad YAML',
      () =>
        api.raw('PUT', `${API}/blueprints/bad-yaml`, {
          raw: 'node_templates: [',
          headers: { 'content-type': 'application/yaml' },
        }),
      400,
      'invalid_blueprint_error',
    ],
    [
      'an unknown relationship target',
      () =>
        api.raw('PUT', `${API}/blueprints/bad-target`, {
          raw: 'tosca_definitions_version: x\nnode_templates:\n  a: {type: t, relationships: [{type: r, target: nope}]}\n',
          headers: { 'content-type': 'application/yaml' },
        }),
      400,
      'invalid_blueprint_error',
    ],
    [
      'a relationship cycle',
      () =>
        api.raw('PUT', `${API}/blueprints/cycle`, {
          raw: 'tosca_definitions_version: x\nnode_templates:\n  a: {type: t, relationships: [{type: r, target: b}]}\n  b: {type: t, relationships: [{type: r, target: a}]}\n',
          headers: { 'content-type': 'application/yaml' },
        }),
      400,
      'invalid_blueprint_error',
    ],
    [
      'an empty blueprint body',
      () =>
        api.raw('PUT', `${API}/blueprints/empty`, {
          raw: ' ',
          headers: { 'content-type': 'application/yaml' },
        }),
      400,
      'bad_parameters_error',
    ],
    [
      'a blueprint that is not an archive',
      () =>
        api.raw('PUT', `${API}/blueprints/junk`, {
          raw: 'not an archive at all',
          headers: { 'content-type': 'application/octet-stream' },
        }),
      400,
      'invalid_blueprint_archive_error',
    ],
    [
      'an archive without the named file',
      async () =>
        api.raw('PUT', `${API}/blueprints/nofile`, {
          raw: multipart(
            await tarGz({ 'x/other.yaml': BLUEPRINT }),
            '{"application_file_name":"blueprint.yaml"}',
          ),
        }),
      400,
      'invalid_blueprint_archive_error',
    ],
    [
      'multipart params that are not JSON',
      async () =>
        api.raw('PUT', `${API}/blueprints/badparams`, {
          raw: multipart(await tarGz({ 'blueprint.yaml': BLUEPRINT }), '{nope'),
        }),
      400,
      'bad_parameters_error',
    ],
    [
      'a path in application_file_name',
      async () =>
        api.raw('PUT', `${API}/blueprints/traversal`, {
          raw: multipart(
            await tarGz({ 'blueprint.yaml': BLUEPRINT }),
            '{"application_file_name":"../etc/passwd.yaml"}',
          ),
        }),
      400,
      'bad_parameters_error',
    ],
    ['an undecodable URL', () => api.get(`${API}/blueprints/%ff`), 400, 'bad_parameters_error'],
    ['a 600-character id', () => api.get(`${API}/blueprints/${'y'.repeat(600)}`), 404, 'not_found_error'],
    [
      'a 600-character id to create',
      () => api.put(`${API}/deployments/${'y'.repeat(600)}`, { blueprint_id: 'x' }),
      400,
      'bad_parameters_error',
    ],
    [
      'deployment inputs nested 5,000 deep',
      // Written as text: JSON.stringify itself would overflow on a value this deep.
      () =>
        api.raw('PUT', `${API}/deployments/deep`, {
          raw: `{"blueprint_id": "nope", "inputs": {"a": ${'['.repeat(5_000)}1${']'.repeat(5_000)}}}`,
          headers: { 'content-type': 'application/json' },
        }),
      400,
      'bad_parameters_error',
    ],
    [
      '_include=constructor',
      () => api.get(`${API}/blueprints?_include=constructor`),
      400,
      'bad_parameters_error',
    ],
    [
      '_include=__proto__ on one resource',
      () => api.get(`${API}/tokens?_include=__proto__`),
      400,
      'bad_parameters_error',
    ],
    [
      'an oversized upload',
      () =>
        api.raw('PUT', `${API}/blueprints/huge`, {
          raw: `# ${'x'.repeat(70_000)}\n${BLUEPRINT}`,
          headers: { 'content-type': 'application/yaml' },
        }),
      413,
      'payload_too_large_error',
    ],
    [
      'an unsupported media type',
      () =>
        api.raw('PUT', `${API}/deployments/x`, {
          raw: '<xml/>',
          headers: { 'content-type': 'application/xml' },
        }),
      415,
      'unsupported_media_type_error',
    ],
    [
      'a deployment of an unknown blueprint',
      () => api.put(`${API}/deployments/d-ghost`, { blueprint_id: 'ghost' }),
      404,
      'not_found_error',
    ],
    [
      'a deployment without blueprint_id',
      () => api.put(`${API}/deployments/d-none`, { inputs: {} }),
      400,
      'bad_parameters_error',
    ],
    [
      'inputs that are not an object',
      () => api.put(`${API}/deployments/d-inputs`, { blueprint_id: 'plain', inputs: [1] }),
      400,
      'bad_parameters_error',
    ],
    [
      'an unknown deployment input',
      () => api.put(`${API}/deployments/d-unknown`, { blueprint_id: 'plain', inputs: { nope: 1 } }),
      400,
      'unknown_deployment_input_error',
    ],
    [
      'a duplicate blueprint',
      () =>
        api.raw('PUT', `${API}/blueprints/plain`, {
          raw: BLUEPRINT,
          headers: { 'content-type': 'application/yaml' },
        }),
      409,
      'conflict_error',
    ],
    ['a negative _size', () => api.get(`${API}/blueprints?_size=-1`), 400, 'bad_parameters_error'],
    [
      'a _size over the maximum',
      () => api.get(`${API}/executions?_size=100000`),
      400,
      'bad_parameters_error',
    ],
    ['a non-numeric _offset', () => api.get(`${API}/events?_offset=abc`), 400, 'bad_parameters_error'],
    [
      'an unknown _sort field',
      () => api.get(`${API}/deployments?_sort=password`),
      400,
      'bad_parameters_error',
    ],
    [
      'a _sort naming an inherited property (constructor)',
      () => api.get(`${API}/deployments?_sort=constructor`),
      400,
      'bad_parameters_error',
    ],
    [
      'a _sort naming __proto__',
      () => api.get(`${API}/executions?_sort=-__proto__`),
      400,
      'bad_parameters_error',
    ],
    [
      'an unknown _include field',
      () => api.get(`${API}/blueprints?_include=secret`),
      400,
      'bad_parameters_error',
    ],
    [
      'an unknown tenant',
      () => api.get(`${API}/blueprints`, { tenant: 'no_such_tenant' }),
      403,
      'forbidden_error',
    ],
    [
      'a malformed token',
      () => client(stack.url, { 'authentication-token': 'ctok-bad' }).get(`${API}/status`),
      401,
      'unauthorized_error',
    ],
    [
      'a forged token',
      () =>
        client(stack.url, { 'authentication-token': `ctok-AAAAAAAAAA-${'B'.repeat(40)}` }).get(
          `${API}/status`,
        ),
      401,
      'unauthorized_error',
    ],
    [
      'a malformed Authorization header',
      () => client(stack.url, { authorization: 'Basic !!!' }).get(`${API}/status`),
      401,
      'unauthorized_error',
    ],
    [
      'an expiration date in the past',
      () => api.post(`${API}/tokens`, { expiration_date: '2001-01-01T00:00:00Z' }),
      400,
      'bad_parameters_error',
    ],
    [
      'an expiration date that is not a date',
      () => api.post(`${API}/tokens`, { expiration_date: 'tomorrow' }),
      400,
      'bad_parameters_error',
    ],
    ['an unknown endpoint', () => api.get(`${API}/no-such-thing`), 404, 'not_found_error'],
  ];

  it.each(cases)('answers %s with a %s %s, never a 500', async (_name, request, status, code) => {
    const answer = await request();
    expect(answer.status).toBe(status);
    expect(answer.body).toMatchObject({ error_code: code, server_traceback: null });
    expect(typeof answer.body.message).toBe('string');
  });

  it('is still healthy after all of it', async () => {
    expect((await anonymous.get(`${API}/ok`)).text).toBe('"OK"');
    expect((await api.get(`${API}/status`)).body.status).toBe('OK');
  });
});

describe('faults', () => {
  it('completes an execution across a broker restart, with no duplicate events', async () => {
    await api.raw('PUT', `${API}/blueprints/wide`, {
      // 24 nodes x 3 operations x 150 ms: about 11 s, longer than the broker takes to restart.
      raw: `tosca_definitions_version: x\nnode_templates:\n${Array.from({ length: 24 }, (_, i) => `  n${i}: {type: t}`).join('\n')}\n`,
      headers: { 'content-type': 'application/yaml' },
    });
    await api.put(`${API}/deployments/wide1`, { blueprint_id: 'wide' });
    const started = await api.post(`${API}/executions`, { deployment_id: 'wide1', workflow_id: 'install' });
    expect(started.status).toBe(201);
    await eventually('a few steps done', async () =>
      (await events(started.body.id)).length >= 4 ? true : undefined,
    );
    const broker = docker.getContainer(stack.mq.getId());
    await broker.restart({ t: 10 });
    const brokerBack = Date.parse((await broker.inspect()).State.StartedAt);
    const execution = await finished(started.body.id, 120_000);
    expect(execution.status).toBe('terminated');
    // The broker went down and came back while the execution ran, not before or after it.
    expect(Date.parse(execution.started_at)).toBeLessThan(brokerBack);
    expect(Date.parse(execution.ended_at)).toBeGreaterThan(brokerBack);
    const recorded = await events(started.body.id);
    expect(recorded.filter((e) => e.event_type === 'operation_succeeded')).toHaveLength(72);
    expectNoDuplicates(recorded);
    await eventually('the broker back in status', async () =>
      (await api.get(`${API}/status`)).body.status === 'OK' ? true : undefined,
    );
  });

  it('fails requests cleanly while the database is down, then recovers', async () => {
    const db = docker.getContainer(stack.db.getId());
    await db.stop({ t: 10 });
    try {
      const failing = await eventually('requests to fail', async () => {
        const answer = await api.get(`${API}/blueprints`);
        return answer.status >= 500 ? answer : undefined;
      });
      expect(failing.status).toBe(503);
      expect(failing.body).toMatchObject({ error_code: 'service_unavailable_error', server_traceback: null });
      expect(failing.body.message).toContain('database');
      const status = await eventually('status to notice', async () => {
        const answer = await api.get(`${API}/status`);
        return answer.body?.services?.PostgreSQL?.status === 'Inactive' ? answer : undefined;
      });
      expect(status.body.status).toBe('Fail');
      const notOk = await anonymous.get(`${API}/ok`);
      expect(notOk.status).toBe(500);
      expect(notOk.text).toBe('"FAIL"');
    } finally {
      await db.start();
    }
    const back = await eventually('requests to succeed again', async () => {
      const answer = await api.get(`${API}/blueprints`);
      return answer.status === 200 ? answer : undefined;
    });
    expect(back.body.items.length).toBeGreaterThan(0);
    expect((await stack.manager.exec(['true'])).exitCode).toBe(0); // the manager process never died
    await eventually('/ok again', async () =>
      (await anonymous.get(`${API}/ok`)).text === '"OK"' ? true : undefined,
    );
  });
});

describe('failed logins', () => {
  const basic = (user: string, password: string) =>
    client(stack.url, { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

  it('makes this address wait 1 s, then 2 s, after 5 failures in a row, without checking the password', async () => {
    for (let i = 0; i < 5; i++) {
      const answer = await basic('admin', `wrong${i}`).get(`${API}/version`);
      expect(answer.status).toBe(401);
      expect(answer.body.message).toContain('wrong username or password');
    }
    const waiting = await basic('admin', 'wrong5').get(`${API}/version`);
    expect(waiting.status).toBe(429);
    expect(waiting.body).toMatchObject({
      error_code: 'too_many_login_attempts_error',
      server_traceback: null,
    });
    expect(waiting.body.message).toContain('try again in 1 s');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await basic('admin', 'wrong6').get(`${API}/version`)).status).toBe(401);
    expect((await basic('admin', 'wrong7').get(`${API}/version`)).body.message).toContain('try again in 2 s');
  });

  it('lets the right password in meanwhile, from this address and from another', async () => {
    expect((await api.get(`${API}/version`)).status).toBe(200);
    const inside = await stack.manager.exec([
      'bash',
      '-c',
      `exec 3<>/dev/tcp/127.0.0.1/8080; printf 'GET /api/v3.1/version HTTP/1.0\r\nAuthorization: ${stack.admin.authorization}\r\n\r\n' >&3; head -n1 <&3`,
    ]);
    expect(inside.output).toMatch(/^HTTP\/1\.[01] 200/);
  });

  it('checks at most 5 of 40 parallel guesses', async () => {
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => basic('ghost', `guess${i}`).get(`${API}/version`)),
    );
    expect(answers.filter((answer) => answer.status === 401)).toHaveLength(5);
    expect(answers.filter((answer) => answer.status === 429)).toHaveLength(35);
  });

  it('keeps the throttle table bounded under 100,000 failed logins with random names, and stays healthy', async () => {
    const rows = async () => Number(await psql(stack.db, 'SELECT count(*) FROM login_throttle', 'cosmo'));
    const before = await rows();
    const statuses = new Map<number, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < 100_000) {
          next++;
          const name = `random-${Math.random().toString(36).slice(2)}`;
          const { status } = await basic(name, 'x').get(`${API}/version`);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );
    // Every attempt refused (401 or 429), none written: made-up names are counted in memory.
    expect([...statuses.keys()].sort()).toEqual([401, 429]);
    expect(await rows()).toBe(before);
    expect((await api.get(`${API}/status`)).body.status).toBe('OK');
  });
});

describe('token lifetimes', () => {
  it('gives a token an expiry by default, and refuses a token that would outlive the token making it', async () => {
    const made = await api.post(`${API}/tokens`, {});
    expect(made.status).toBe(200);
    const hours = (Date.parse(made.body.expiration_date) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(9.9);
    expect(hours).toBeLessThanOrEqual(10);
    const withToken = client(stack.url, { 'authentication-token': made.body.value });
    const longer = await withToken.post(`${API}/tokens`, {
      expiration_date: new Date(Date.now() + 20 * 3_600_000).toISOString(),
    });
    expect(longer.status).toBe(400);
    expect(longer.body.message).toContain('after the expiry of the token making it');
    const child = await withToken.post(`${API}/tokens`, {});
    expect(Date.parse(child.body.expiration_date)).toBeLessThanOrEqual(Date.parse(made.body.expiration_date));
  });

  it('refuses an expiration_date beyond the longest lifetime (30 days by default)', async () => {
    const far = await api.post(`${API}/tokens`, {
      expiration_date: new Date(Date.now() + 31 * 86_400_000).toISOString(),
    });
    expect(far.status).toBe(400);
    expect(far.body.message).toContain('a token lives at most 2592000 s');
    const within = await api.post(`${API}/tokens`, {
      expiration_date: new Date(Date.now() + 29 * 86_400_000).toISOString(),
    });
    expect(within.status).toBe(200);
  });
});
