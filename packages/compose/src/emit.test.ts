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
const options = { target: 'compose' as const, configDir: '/project', outDir: '/project/.cosmo' };

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
    expect(doc.secrets.cosmo_admin_password).toEqual({ file: '../secrets/admin_password' });
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
