import { describe, expect, it } from 'vitest';
import { planFor } from './planner.ts';
import { ConfigError, defaultConfigText, parseConfig } from './validate.ts';

function problems(text: string): string[] {
  try {
    parseConfig(text);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected the configuration to be refused');
}

describe('cosmo.yaml', () => {
  it('makes an empty file a valid All-in-One with every default', () => {
    const config = parseConfig('');
    expect(config).toMatchObject({
      version: 1,
      name: 'cosmo',
      mode: 'aio',
      images: { registry: '', prefix: 'cosmo' },
      credentials: { source: 'generate', dir: 'secrets' },
      modes: { aio: { port: 8080, bind: '0.0.0.0', resources: {} } },
    });
  });

  it('reads the file cosmo init writes', () => {
    expect(parseConfig(defaultConfigText()).credentials.source).toBe('files');
  });

  it.each([
    ['modes:\n  aio:\n    port: 70000\n', 'modes.aio.port: 70000 is not a port (1-65535)'],
    ['modes:\n  aio:\n    port: "80"\n', 'modes.aio.port: "80" is not a port (1-65535)'],
    ['modes:\n  aio:\n    port: 0\n', 'modes.aio.port: 0 is not a port (1-65535)'],
    ['mode: cluster\n', 'mode: "cluster" is not a mode (use one of aio, compact, distributed)'],
    ['version: 2\n', 'version: 2 is not a supported config version (use 1)'],
    ['name: My Project\n', 'name: "My Project" is not a valid project name'],
    ['modes:\n  aio:\n    prot: 80\n', 'modes.aio.prot: unknown key (check its spelling and place)'],
    ['colour: blue\n', 'colour: unknown key'],
    ['modes:\n  aio:\n    bind: 300.1.1.1\n', 'modes.aio.bind: "300.1.1.1" is not an IPv4 address'],
    [
      'modes:\n  aio:\n    resources: {memory: lots}\n',
      'modes.aio.resources.memory: "lots" is not a memory size such as 512m or 2g',
    ],
    [
      'modes:\n  aio:\n    resources: {cpus: -1}\n',
      'modes.aio.resources.cpus: -1 is not a number of CPUs above 0',
    ],
    [
      'credentials:\n  source: vault\n',
      'credentials.source: "vault" is not a credentials source (use generate or files)',
    ],
    ['images:\n  registry: "http://x"\n', 'images.registry: "http://x" is not a registry'],
    ['images:\n  tag: "bad tag"\n', 'images.tag: "bad tag" is not an image tag'],
    ['external:\n  db: {host: db.example}\n', 'external: the aio mode runs its own database and queue'],
    ['mode: compact\n', 'mode: compact is not available yet in this version (use aio)'],
    ['nodes: [{name: a, address: 10.0.0.1}]\n', 'nodes: the aio mode runs on one host'],
    ['nodes: [{name: A, address: 10.0.0.1}]\n', 'nodes[0].name: "A" is not a valid node name'],
    ['modes: [1, 2]\n', 'modes:'],
    ['- a list\n', '(top level): must be a mapping'],
    ['mode: [unclosed\n', 'not valid YAML (line 2)'],
  ])('refuses %j, naming the path and the fix', (text, message) => {
    expect(problems(text).join('\n')).toContain(message);
  });

  it('reports every problem at once', () => {
    expect(problems('modes:\n  aio:\n    port: 70000\n    bind: x\nname: "A"\n')).toHaveLength(3);
  });
});

describe('plan', () => {
  it('is one aio service with its volume, port, health check and grace', () => {
    const plan = planFor(parseConfig('modes:\n  aio:\n    port: 9000\n    bind: 127.0.0.1\n'), '1.2.3');
    expect(plan.services).toHaveLength(1);
    const [aio] = plan.services;
    expect(aio).toMatchObject({
      name: 'aio',
      image: 'cosmo/aio:1.2.3',
      localImage: true,
      volumes: [{ volume: 'data', target: '/var/lib/cosmo' }],
      ports: [{ host: '127.0.0.1', published: 9000, target: 8080 }],
      stopGracePeriodSeconds: 90,
      secrets: [],
    });
    expect(aio?.healthcheck.test).toEqual(['CMD', '/usr/local/bin/cosmo-healthcheck']);
    expect(plan.access).toMatchObject({ url: 'http://127.0.0.1:9000', adminUser: 'admin' });
  });

  it('passes secret files and their paths when credentials come from files', () => {
    const plan = planFor(parseConfig('name: lab\ncredentials: {source: files, dir: keys}\n'), '1.0.0');
    expect(plan.secrets).toEqual([
      { name: 'lab_db_password', file: 'keys/db_password' },
      { name: 'lab_mq_password', file: 'keys/mq_password' },
      { name: 'lab_admin_password', file: 'keys/admin_password' },
    ]);
    expect(plan.services[0]?.environment.COSMO_DB_PASSWORD_FILE).toBe('/run/secrets/db_password');
    expect(plan.access.adminPassword).toEqual({ file: 'keys/admin_password' });
  });

  it('takes the registry, prefix and tag into the image reference', () => {
    const plan = planFor(
      parseConfig('images: {registry: "reg.example:5000", prefix: acme, tag: "7"}\n'),
      '1.0.0',
    );
    expect(plan.services[0]).toMatchObject({ image: 'reg.example:5000/acme/aio:7', localImage: false });
  });
});
