/**
 * A Cloudify user's first hour, as Cloudify's own command-line client (`cfy`) makes it: the requests
 * below are the ones cloudify-rest-client sends for `cfy blueprints upload`, `deployments create`,
 * `executions start` (with its event tailing), `deployments outputs`, `executions list`, `uninstall`
 * and the deletes — methods, paths, query strings, the headers it sets on every request
 * (`Content-Type: application/json` even without a body, `Tenant`), multipart uploads and its
 * string booleans — and each answer is read the way the client reads it. Cloudify's client cannot
 * be installed here (not in Debian's archive nor on npm), so these tests are written from its sources.
 * Shared by test/cfy.test.ts (the All-in-One) and test/distributed.test.ts (through the load balancer).
 */
import { expect, it } from 'vitest';
import { type Answer, type Client, client } from './api.ts';
import { tarGz } from './blueprints.ts';
import { eventually } from './stack.ts';

const API = '/api/v3.1';

const BLUEPRINT = `tosca_definitions_version: cloudify_dsl_1_4
description: cfy flow
inputs:
  greeting: {default: hello}
node_templates:
  app:
    type: cloudify.nodes.Root
    interfaces:
      cloudify.interfaces.lifecycle:
        create:
          implementation: scripts/create.sh
          inputs: {GREETING: {get_input: greeting}}
outputs:
  said:
    description: what create said
    value: {get_attribute: [app, said]}
`;
const CREATE =
  '#!/bin/bash\nctx logger info "saying $GREETING"\nctx instance runtime-properties said "$GREETING"\n';

/** A blueprint that reads a secret into an operation's input and an output, and prints it. */
const secretBlueprint = (key: string) => `tosca_definitions_version: cloudify_dsl_1_4
node_templates:
  app:
    type: cloudify.nodes.Root
    interfaces:
      cloudify.interfaces.lifecycle:
        create:
          implementation: scripts/leak.sh
          inputs: {PASSWORD: {get_secret: ${key}}}
outputs:
  dsn: {value: {concat: ['postgres://app:', {get_secret: ${key}}, '@db/app']}}
`;
const LEAK = '#!/bin/bash\necho "the password is $PASSWORD"\nctx logger info "logged: $PASSWORD"\nexit 1\n';

/** What cloudify-rest-client sends with every request (its session headers). */
function cfyClient(url: string, password: string) {
  const headers = {
    authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`,
    tenant: 'default_tenant',
    'content-type': 'application/json',
  };
  const api: Client = client(url, headers);
  const query = (params: [string, string][]) => new URLSearchParams(params).toString();
  return {
    get: (path: string, params: [string, string][] = []) =>
      api.get(`${API}${path}${params.length ? `?${query(params)}` : ''}`),
    /** Its JSON bodies; requests encodes Python's booleans in a body as JSON, in a query as `False`. */
    send: (method: 'PUT' | 'POST' | 'PATCH', path: string, body: unknown) =>
      api.raw(method, `${API}${path}`, { raw: typeof body === 'string' ? body : JSON.stringify(body) }),
    /** A DELETE: no body, the JSON content type all the same. */
    del: (path: string, params: [string, string][]) => api.raw('DELETE', `${API}${path}?${query(params)}`),
    /** `blueprints upload`: multipart with a `params` JSON field and the archive as a file. */
    upload: (id: string, archive: Buffer, fileName: string) => {
      const form = new FormData();
      form.append(
        'params',
        JSON.stringify({
          visibility: 'tenant',
          async_upload: false,
          skip_execution: false,
          application_file_name: fileName,
        }),
      );
      form.append(
        'blueprint_archive',
        new Blob([new Uint8Array(archive)], { type: 'text/plain' }),
        'filename',
      );
      // fetch sets the multipart content type with its boundary, as requests-toolbelt's encoder does.
      const { 'content-type': _json, ...rest } = headers;
      return fetch(`${url}${API}/blueprints/${id}`, { method: 'PUT', headers: rest, body: form }).then(
        async (response): Promise<Answer> => {
          const text = await response.text();
          return {
            status: response.status,
            body: text ? JSON.parse(text) : undefined,
            text,
            contentType: '',
          };
        },
      );
    },
  };
}

type Cfy = ReturnType<typeof cfyClient>;

/** `wait_for_execution`: the execution until it ends, its events (and logs) by `reported_timestamp`. */
async function waitForExecution(cfy: Cfy, id: string, includeLogs: boolean) {
  const execution = await eventually(
    `execution ${id} to end`,
    async () => {
      const { body } = await cfy.get(`/executions/${id}`);
      return ['terminated', 'failed', 'cancelled'].includes(body.status) ? body : undefined;
    },
    120_000,
  );
  const events: Record<string, unknown>[] = [];
  for (let offset = 0; ; offset += 100) {
    const types: [string, string][] = [['type', 'cloudify_event']];
    if (includeLogs) types.push(['type', 'cloudify_log']);
    const page = await cfy.get('/events', [
      ['_offset', String(offset)],
      ['_size', '100'],
      ['_sort', 'reported_timestamp'],
      ['execution_id', id],
      ...types,
    ]);
    expect(page.status, page.text).toBe(200);
    // What ExecutionEventsFetcher reads of each event to build its context.
    for (const event of page.body.items) {
      for (const field of ['deployment_id', 'execution_id', 'node_name', 'operation', 'workflow_id']) {
        expect(event).toHaveProperty(field);
      }
      expect(event).toHaveProperty('node_instance_id');
      expect(event).toHaveProperty('error_causes');
    }
    events.push(...page.body.items);
    if (page.body.items.length < 100) break;
  }
  return { execution, events };
}

/**
 * The flow as `cfy` runs it, one test per command, against `target()` (read when the tests run): its
 * blueprint and deployments are named `<prefix>app` and `<prefix>named`.
 */
export function cfyFlow(target: () => { url: string; password: string }, prefix = ''): void {
  const app = `${prefix}app`;
  const named = `${prefix}named`;
  let client: Cfy | undefined;
  const cfyOf = () => {
    client ??= cfyClient(target().url, target().password);
    return client;
  };

  it('cfy blueprints upload: a folder packed as an archive, then the upload execution it follows', async () => {
    const archive = await tarGz({ 'app/blueprint.yaml': BLUEPRINT, 'app/scripts/create.sh': CREATE });
    const uploaded = await cfyOf().upload(app, archive, 'blueprint.yaml');
    expect(uploaded.status, uploaded.text).toBe(201);
    // wait_for_blueprint_upload: the blueprint, its upload_execution's id, and a state that has ended.
    const { body } = await cfyOf().get(`/blueprints/${app}`);
    expect(body.state).toBe('uploaded');
    expect(body.error).toBeNull();
    expect(body.upload_execution.id).toMatch(/^[0-9a-f-]{36}$/);
    const upload = await cfyOf().get(`/executions/${body.upload_execution.id}`);
    expect(upload.status).toBe(200);
    expect(upload.body).toMatchObject({
      workflow_id: 'upload_blueprint',
      status: 'terminated',
      blueprint_id: app,
    });
  });

  it('cfy blueprints upload of an archive URL is refused, saying why', async () => {
    const answer = await cfyOf().send(
      'PUT',
      `/blueprints/${prefix}remote?blueprint_archive_url=http://example.invalid/bp.zip`,
      {},
    );
    expect(answer.status).toBe(400);
    expect(answer.body.message).toContain('blueprint_archive_url');
  });

  it('cfy deployments create, with and without a display name', async () => {
    const plain = await cfyOf().send('PUT', `/deployments/${app}`, {
      blueprint_id: app,
      visibility: 'tenant',
      inputs: { greeting: 'hi from cfy' },
      skip_plugins_validation: false,
      runtime_only_evaluation: false,
    });
    expect(plain.status, plain.text).toBe(201);
    expect(plain.body.display_name).toBe(app);
    const withName = await cfyOf().send('PUT', `/deployments/${named}`, {
      blueprint_id: app,
      visibility: 'tenant',
      display_name: 'My App',
      labels: null,
      skip_plugins_validation: false,
      runtime_only_evaluation: false,
    });
    expect(withName.status, withName.text).toBe(201);
    expect((await cfyOf().get(`/deployments/${named}`)).body.display_name).toBe('My App');
    const listed = await cfyOf().get('/deployments', [['_include', 'id,display_name,blueprint_id']]);
    expect(listed.body.items).toContainEqual({ id: named, display_name: 'My App', blueprint_id: app });
  });

  it('cfy executions start install, tailing its events and logs in order; cfy events list by type', async () => {
    const started = await cfyOf().send('POST', '/executions', {
      deployment_id: app,
      workflow_id: 'install',
      parameters: {},
      allow_custom_parameters: 'false',
      force: 'false',
      dry_run: 'false',
      queue: 'false',
      wait_after_fail: 600,
      scheduled_time: null,
      force_status: null,
    });
    expect(started.status, started.text).toBe(201);
    expect(started.body).toHaveProperty('scheduled_for', null);
    const { execution, events } = await waitForExecution(cfyOf(), started.body.id, true);
    expect(execution.status).toBe('terminated');
    // In the order they happened: the workflow starts first and ends last; the script's log between.
    const types = events.map((event) => event.event_type ?? `log:${event.message}`);
    expect(types[0]).toBe('workflow_started');
    expect(types.at(-1)).toBe('workflow_succeeded');
    expect(types).toContain('log:saying hi from cfy');
    const stamps = events.map((event) => String(event.reported_timestamp));
    expect([...stamps].sort()).toEqual(stamps);
    // Without logs: events only.
    const eventsOnly = await waitForExecution(cfyOf(), started.body.id, false);
    expect(eventsOnly.events.length).toBeGreaterThan(0);
    expect(eventsOnly.events.every((event) => event.type === 'cloudify_event')).toBe(true);
    expect(eventsOnly.events.length).toBeLessThan(events.length);
  });

  it('cfy deployments outputs: the definitions from the deployment, the values from /outputs', async () => {
    const definitions = await cfyOf().get(`/deployments/${app}`, [['_include', 'outputs']]);
    expect(definitions.status, definitions.text).toBe(200);
    expect(definitions.body).toEqual({
      outputs: { said: { description: 'what create said', value: { get_attribute: ['app', 'said'] } } },
    });
    const values = await cfyOf().get(`/deployments/${app}/outputs`);
    expect(values.body).toEqual({ deployment_id: app, outputs: { said: 'hi from cfy' } });
  });

  it('cfy executions list and get: every execution with the fields the client prints', async () => {
    const listed = await cfyOf().get('/executions', [
      ['deployment_id', app],
      ['_include_system_workflows', 'False'],
      ['_include', 'id,workflow_id,deployment_id,status,created_at,scheduled_for'],
    ]);
    expect(listed.status, listed.text).toBe(200);
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.items[0]).toMatchObject({
      workflow_id: 'install',
      status: 'terminated',
      scheduled_for: null,
    });
  });

  it('cfy uninstall: the uninstall workflow, then the deployment and the blueprint deleted (DELETEs with a JSON content type and no body)', async () => {
    const started = await cfyOf().send('POST', '/executions', {
      deployment_id: app,
      workflow_id: 'uninstall',
      parameters: {},
      allow_custom_parameters: 'false',
      force: 'false',
      dry_run: 'false',
      queue: 'false',
    });
    expect(started.status, started.text).toBe(201);
    expect((await waitForExecution(cfyOf(), started.body.id, true)).execution.status).toBe('terminated');
    for (const id of [app, named]) {
      const deleted = await cfyOf().del(`/deployments/${id}`, [
        ['force', 'False'],
        ['delete_db_mode', 'False'],
        ['delete_logs', 'False'],
      ]);
      expect(deleted.status, deleted.text).toBe(204);
    }
    const blueprint = await cfyOf().del(`/blueprints/${app}`, [['force', 'False']]);
    expect(blueprint.status, blueprint.text).toBe(204);
    expect((await cfyOf().get(`/blueprints/${app}`)).status).toBe(404);
  });

  it('cfy secrets create, get, list, update and delete; a secret given to a script stays out of its events and outputs', async () => {
    const key = `${prefix}db_password`;
    const first = 'Fir5t-secret-value';
    const second = 'Sec0nd-secret-value';
    const create = (value: string, updateIfExists: boolean) =>
      cfyOf().send('PUT', `/secrets/${key}`, {
        value,
        update_if_exists: updateIfExists,
        is_hidden_value: false,
        visibility: 'tenant',
      });
    const created = await create(first, false);
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ key, visibility: 'tenant', is_hidden_value: false });
    const again = await create('other', false);
    expect(again.status).toBe(409);
    expect(again.body.error_code).toBe('conflict_error');
    expect((await cfyOf().get(`/secrets/${key}`)).body.value).toBe(first);
    // cfy secrets list: keys and metadata, never a value.
    const listed = await cfyOf().get('/secrets', [['_sort', 'key']]);
    expect(listed.status, listed.text).toBe(200);
    const item = listed.body.items.find((secret: { key: string }) => secret.key === key);
    expect(item).toMatchObject({ key, created_by: 'admin', tenant_name: 'default_tenant' });
    expect(item).not.toHaveProperty('value');
    // cfy secrets update: PATCH with the fields given only.
    const updated = await cfyOf().send('PATCH', `/secrets/${key}`, { value: second });
    expect(updated.status, updated.text).toBe(200);
    expect((await cfyOf().get(`/secrets/${key}`)).body.value).toBe(second);
    // A secrets provider is not something this manager has: refused, not ignored.
    const provider = await cfyOf().send('PUT', `/secrets/${prefix}vault`, {
      value: 'x',
      provider_name: 'vault',
    });
    expect(provider.status).toBe(400);
    expect(provider.body.message).toContain('provider_name');

    // A script receives the secret; what it prints of it is recorded as ******, and so is the output.
    const blueprint = `${prefix}secretive`;
    const archive = await tarGz({ 'bp/blueprint.yaml': secretBlueprint(key), 'bp/scripts/leak.sh': LEAK });
    expect((await cfyOf().upload(blueprint, archive, 'blueprint.yaml')).status).toBe(201);
    expect((await cfyOf().send('PUT', `/deployments/${blueprint}`, { blueprint_id: blueprint })).status).toBe(
      201,
    );
    const started = await cfyOf().send('POST', '/executions', {
      deployment_id: blueprint,
      workflow_id: 'install',
    });
    expect(started.status, started.text).toBe(201);
    const { execution, events } = await waitForExecution(cfyOf(), started.body.id, true);
    expect(execution.status).toBe('failed');
    const recorded = JSON.stringify([events, execution]);
    expect(recorded).toContain('the password is ******');
    expect(recorded).toContain('logged: ******');
    expect(recorded).not.toContain(second);
    const outputs = await cfyOf().get(`/deployments/${blueprint}/outputs`);
    expect(outputs.body.outputs).toEqual({ dsn: 'postgres://app:******@db/app' });
    const shown = await cfyOf().get(`/deployments/${blueprint}/outputs`, [['_show_secrets', 'true']]);
    expect(shown.body.outputs).toEqual({ dsn: `postgres://app:${second}@db/app` });

    // cfy secrets delete; a deployment that reads it now says which secret is missing.
    const deleted = await cfyOf().del(`/secrets/${key}`, []);
    expect(deleted.status, deleted.text).toBe(204);
    expect((await cfyOf().get(`/secrets/${key}`)).status).toBe(404);
    const missing = await cfyOf().get(`/deployments/${blueprint}/outputs`);
    expect(missing.status).toBe(400);
    expect(missing.body.message).toContain(`there is no secret '${key}'`);
  });

  it('answers no body, or a body that is not JSON, with 400 in the API format', async () => {
    const empty = await cfyOf().send('POST', '/executions', undefined);
    expect(empty.status).toBe(400);
    expect(empty.body.error_code).toBe('bad_parameters_error');
    const broken = await cfyOf().send('POST', '/executions', '{not json');
    expect(broken.status).toBe(400);
    expect(broken.body.error_code).toBe('bad_parameters_error');
    expect(broken.body.message).toContain('not JSON');
  });
}
