import { readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultConfigText, parseConfig, planFor } from '@cosmo/topology';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { composeDocument, renderCompose } from './emit.ts';
import { composeSchemaErrors } from './schema.ts';

const root = path.resolve(import.meta.dirname, '../../..');
const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string })
  .version;
const options = { target: 'compose' as const, configDir: '/project', outDir: '/project' };

describe('compose emitter', () => {
  const filesPlan = planFor(
    parseConfig('credentials: {source: files}\nmodes: {aio: {resources: {cpus: 2, memory: 2g}}}\n'),
    '1.0.0',
  );

  it('emits a document the Compose schema accepts, for both targets', () => {
    expect(composeSchemaErrors(composeDocument(filesPlan, options))).toEqual([]);
    expect(composeSchemaErrors(composeDocument(filesPlan, { ...options, target: 'swarm' }))).toEqual([]);
  });

  it('catches what the schema forbids', () => {
    const document = composeDocument(filesPlan, options) as {
      services: Record<string, Record<string, unknown>>;
    };
    document.services.aio!.restart_policy_typo = true;
    expect(composeSchemaErrors(document).join('\n')).toContain('must NOT have additional properties');
  });

  it('is deterministic: the same plan gives the same bytes', () => {
    expect(renderCompose(filesPlan, options)).toBe(
      renderCompose(
        planFor(
          parseConfig('credentials: {source: files}\nmodes: {aio: {resources: {cpus: 2, memory: 2g}}}\n'),
          '1.0.0',
        ),
        options,
      ),
    );
  });

  it('never pulls local images, makes secret paths relative to the output, and keeps the grace', () => {
    const doc = parse(renderCompose(filesPlan, options));
    expect(doc.services.aio.pull_policy).toBe('never');
    expect(doc.services.aio.stop_grace_period).toBe('90s');
    expect(doc.services.aio.cpus).toBe(2);
    expect(doc.services.aio.mem_limit).toBe('2g');
    expect(doc.secrets.cosmo_admin_password).toEqual({ file: 'secrets/admin_password' });
    expect(doc.services.aio.secrets).toContainEqual({
      source: 'cosmo_admin_password',
      target: 'admin_password',
    });
    expect(doc.volumes.data).toBeDefined();
  });

  it('writes the Swarm dialect without keys docker stack deploy rejects', () => {
    const doc = parse(renderCompose(filesPlan, { ...options, target: 'swarm' }));
    expect(doc.name).toBeUndefined();
    expect(doc.services.aio.pull_policy).toBeUndefined();
    expect(doc.services.aio.restart).toBeUndefined();
    expect(doc.services.aio.deploy).toMatchObject({
      replicas: 1,
      resources: { limits: { cpus: '2', memory: '2g' } },
    });
  });

  it.each([
    ['aio', 'compose', 'compose.yaml', ''],
    [
      'distributed',
      'compose',
      'compose.yaml',
      defaultConfigText({ mode: 'distributed', credentials: 'files' }),
    ],
    ['distributed', 'swarm', 'stack.yaml', defaultConfigText({ mode: 'distributed', credentials: 'files' })],
    ['compact', 'compose', 'compose.yaml', defaultConfigText({ mode: 'compact', credentials: 'files' })],
    ['compact', 'swarm', 'stack.yaml', defaultConfigText({ mode: 'compact', credentials: 'files' })],
  ] as const)(
    'keeps compose/%s/ %s file current (regenerate with pnpm generate)',
    (mode, target, file, text) => {
      const out = path.join(root, 'compose', mode);
      const expected = renderCompose(planFor(parseConfig(text), version), {
        target,
        configDir: out,
        outDir: out,
      });
      expect(readFileSync(path.join(out, file), 'utf8')).toBe(expected);
    },
  );
});

describe('distributed cluster files', () => {
  const plan = planFor(
    parseConfig(defaultConfigText({ mode: 'distributed', credentials: 'files' })),
    '1.0.0',
  );
  const compose = parse(renderCompose(plan, options));
  const swarm = parse(renderCompose(plan, { ...options, target: 'swarm' }));

  it('validate against the Compose schema and use no YAML anchors', () => {
    expect(composeSchemaErrors(composeDocument(plan, options))).toEqual([]);
    expect(composeSchemaErrors(composeDocument(plan, { ...options, target: 'swarm' }))).toEqual([]);
    expect(renderCompose(plan, { ...options, target: 'swarm' })).not.toMatch(/[&*]a\d/);
  });

  it('swarm: every secret mounted root-only (0400), since Swarm would mount it 0444; compose binds the files as they are', () => {
    const mounts = Object.values(swarm.services as Record<string, { secrets?: object[] }>).flatMap(
      (svc) => svc.secrets ?? [],
    );
    expect(mounts.length).toBeGreaterThan(0);
    for (const mount of mounts) expect(mount).toMatchObject({ uid: '0', gid: '0', mode: 0o400 });
    const composeMounts = Object.values(compose.services as Record<string, { secrets?: object[] }>).flatMap(
      (svc) => svc.secrets ?? [],
    );
    for (const mount of composeMounts) expect(mount).not.toHaveProperty('mode');
  });

  it('drops every capability but those each image needs, with no new privileges and a process limit in compose', () => {
    for (const [name, svc] of Object.entries(compose.services as Record<string, Record<string, unknown>>)) {
      expect(svc.cap_drop, name).toEqual(['ALL']);
      expect(svc.security_opt, name).toEqual(['no-new-privileges:true']);
      expect(svc.pids_limit, name).toBeGreaterThan(0);
    }
    // The LB's entrypoint only hands its certificate to the haproxy user it becomes.
    expect(compose.services.lb.cap_add).toEqual(['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID']);
    expect(compose.services.db1.cap_add).toEqual([
      'CHOWN',
      'DAC_OVERRIDE',
      'FOWNER',
      'SETUID',
      'SETGID',
      'KILL',
    ]);
    // The stack: the same capabilities; security_opt and pids_limit are keys docker stack deploy ignores.
    for (const svc of Object.values(swarm.services as Record<string, Record<string, unknown>>)) {
      expect(svc.cap_drop).toEqual(['ALL']);
      expect(svc.security_opt).toBeUndefined();
      expect(svc.pids_limit).toBeUndefined();
    }
  });

  it('compose: one service per manager, all answering to the name manager', () => {
    expect(Object.keys(compose.services)).toEqual([
      'db1',
      'db2',
      'db3',
      'queue1',
      'queue2',
      'queue3',
      'manager1',
      'manager2',
      'manager3',
      'lb',
    ]);
    expect(compose.services.manager2.environment.COSMO_NODE_NAME).toBe('manager2');
    expect(compose.services.manager2.hostname).toBe('manager2');
    expect(compose.services.manager2.networks).toEqual({ default: { aliases: ['manager'] } });
    expect(compose.services.db1.volumes).toContainEqual({ type: 'tmpfs', target: '/run/cosmo-db' });
  });

  it('swarm: replicated dnsrr managers updated start-first, members pinned by node label, host-mode port', () => {
    expect(swarm.services.manager.deploy).toMatchObject({
      replicas: 3,
      endpoint_mode: 'dnsrr',
      update_config: { order: 'start-first' },
      placement: { constraints: ['node.labels.io.cosmo.manager == true'] },
    });
    expect(swarm.services.manager.environment.COSMO_NODE_NAME).toBe('manager{{.Task.Slot}}');
    expect(swarm.services.db2.deploy.placement.constraints).toEqual(['node.labels.io.cosmo.db2 == true']);
    // One LB on every labelled node (global), so that losing a host leaves the others' ports.
    expect(swarm.services.lb.deploy.mode).toBe('global');
    expect(swarm.services.lb.deploy.replicas).toBeUndefined();
    expect(swarm.services.lb.ports).toEqual([
      { target: 8080, published: 8080, protocol: 'tcp', mode: 'host' },
    ]);
    for (const svc of Object.values(swarm.services) as {
      deploy: { endpoint_mode: string; restart_policy: { condition: string } };
    }[]) {
      expect(svc.deploy.endpoint_mode).toBe('dnsrr');
      // Swarm stops an unhealthy task with its stop signal (exit 0): it must be started again.
      expect(svc.deploy.restart_policy).toEqual({ condition: 'any' });
    }
  });
});

describe('clusters with an external database and queue', () => {
  const external = `external:
  db: {host: 10.0.0.5, port: 6432, database: platform, user: app, password_file: ext/db, sslmode: verify-full, ca_file: ext/ca.pem}
  queue: {hosts: ["mq.example:5671"], user: app, password_file: ext/mq, vhost: cosmo, tls: true}
`;
  const planOf = (mode: string, extra = external) =>
    planFor(parseConfig(`${defaultConfigText({ mode, credentials: 'files' })}${extra}`), '1.0.0');

  it('distributed: no database or queue members, managers connect to the external services', () => {
    const plan = planOf('distributed');
    const compose = parse(renderCompose(plan, options));
    expect(Object.keys(compose.services)).toEqual(['manager1', 'manager2', 'manager3', 'lb']);
    expect(compose.volumes ?? {}).toEqual({});
    expect(compose.services.manager1.environment).toMatchObject({
      COSMO_DB_HOST: '10.0.0.5',
      COSMO_DB_PORT: '6432',
      COSMO_DB_NAME: 'platform',
      COSMO_DB_USER: 'app',
      COSMO_DB_SSLMODE: 'verify-full',
      COSMO_DB_CA_FILE: '/run/secrets/external_db_ca.pem',
      COSMO_DB_EXTERNAL: 'true',
      COSMO_MQ_HOSTS: 'mq.example:5671',
      COSMO_MQ_VHOST: 'cosmo',
      COSMO_MQ_TLS: 'true',
      COSMO_MQ_EXTERNAL: 'true',
    });
    expect(compose.services.manager1.environment.COSMO_DB_PATRONI_URLS).toBeUndefined();
    // Only the admin's password and the secrets key are generated; the external files are the
    // operator's, under their names.
    expect(
      plan.secrets.filter((secret) => !secret.provided && !secret.certificate).map((secret) => secret.file),
    ).toEqual(['secrets/admin_password', 'secrets/secrets_key']);
    expect(plan.secrets.filter((secret) => secret.provided).map((secret) => secret.file)).toEqual([
      'ext/db',
      'ext/ca.pem',
      'ext/mq',
    ]);
    expect(compose.secrets.cosmo_external_db_password).toEqual({ file: 'ext/db' });
    expect(compose.services.manager2.secrets.map((s: { target: string }) => s.target)).toEqual([
      'admin_password',
      'secrets_key',
      'manager.crt',
      'manager.key',
      'external_db_password',
      'external_db_ca.pem',
      'external_queue_password',
    ]);
  });

  it('compact: each node runs only the services that are not external', () => {
    const onlyDb = `external:
  db: {host: pg.example, password_file: ext/db, sslmode: disable}
`;
    const plan = planOf('compact', onlyDb);
    const node = plan.services.find((service) => service.name === 'node1')!;
    expect(node.environment.COSMO_SERVICES).toBe('rabbitmq,manager');
    expect(node.environment.COSMO_DB_NODE).toBeUndefined();
    expect(node.environment.RABBITMQ_CLUSTER_PEERS).toBe('node1,node2,node3');
    expect(node.environment.COSMO_MQ_HOSTS).toBe('node1,node2,node3');
    expect(node.healthcheck.test).toEqual(['CMD', 'bash', '-c', '</dev/tcp/127.0.0.1/25672']);
    expect(node.tmpfs).not.toContain('/run/cosmo-db');
    expect(plan.secrets.map((secret) => secret.file)).toEqual([
      'secrets/mq_password',
      'secrets/mq_erlang_cookie',
      'secrets/admin_password',
      'secrets/secrets_key',
      'secrets/api.crt',
      'secrets/api.key',
      'secrets/ca.crt',
      'secrets/manager.crt',
      'secrets/manager.key',
      'secrets/member.crt',
      'secrets/member.key',
      'ext/db',
    ]);
    // Its own queue over TLS only; the external database as the operator configured it.
    expect(node.environment.RABBITMQ_TLS_CERT_FILE).toBe('/run/secrets/member.crt');
    expect(node.environment).toMatchObject({ COSMO_MQ_TLS: 'true', COSMO_MQ_CA_FILE: '/run/secrets/ca.crt' });
    expect(node.environment.COSMO_DB_TLS_CERT_FILE).toBeUndefined();
    const both = planOf('compact').services.find((service) => service.name === 'node2')!;
    expect(both.environment.COSMO_SERVICES).toBe('manager');
    expect(both.healthcheck.test).toEqual(['CMD', '/usr/local/bin/cosmo-healthcheck']);
    const none = planOf('compact', '').services.find((service) => service.name === 'node3')!;
    expect(none.environment.COSMO_SERVICES).toBeUndefined();
  });
});
