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
    expect(swarm.services.lb.ports).toEqual([
      { target: 8080, published: 8080, protocol: 'tcp', mode: 'host' },
    ]);
    for (const svc of Object.values(swarm.services) as { deploy: { endpoint_mode: string } }[]) {
      expect(svc.deploy.endpoint_mode).toBe('dnsrr');
    }
  });
});
