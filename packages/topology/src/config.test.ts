import { describe, expect, it } from 'vitest';
import { planFor } from './planner.ts';
import { ConfigError, defaultConfigText, parseConfig } from './validate.ts';

const DIST = 'mode: distributed\ncredentials: {source: files}\n';

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
    ['mode: compact\n', 'credentials.source: the compact mode shares its credentials between nodes'],
    [
      'mode: compact\ncredentials: {source: files}\nexternal: {queue: {hosts: [mq]}}\n',
      'external.queue.password_file: missing: the password file path',
    ],
    [
      'mode: compact\ncredentials: {source: files}\nexternal: {queue: {hosts: ["mq:x"], password_file: p}}\n',
      'external.queue.hosts[0]: "mq:x" is not host or host:port',
    ],
    [
      'mode: compact\ncredentials: {source: files}\nexternal: {queue: {hosts: [mq], password_file: p, ca_file: ca.pem}}\n',
      'external.queue.ca_file: only used with tls: true',
    ],
    ['nodes: [{name: a, address: 10.0.0.1}]\n', 'nodes: unknown key'],
    ['modes: [1, 2]\n', 'modes:'],
    ['- a list\n', '(top level): must be a mapping'],
    ['mode: [unclosed\n', 'not valid YAML (line 2)'],
    [`${DIST}modes: {distributed: {db: 2}}\n`, 'modes.distributed.db: 2 must be odd and >= 3'],
    [`${DIST}modes: {distributed: {queue: 4}}\n`, 'modes.distributed.queue: 4 must be odd and >= 3'],
    [
      `${DIST}modes: {distributed: {db: 11}}\n`,
      'modes.distributed.db: 11 is more members than a quorum needs',
    ],
    [`${DIST}modes: {distributed: {managers: 0}}\n`, 'modes.distributed.managers: 0 must be >= 1'],
    [`${DIST}modes: {distributed: {port: 0}}\n`, 'modes.distributed.port: 0 is not a port'],
    ['mode: distributed\n', 'credentials.source: the distributed mode shares its credentials'],
    [
      `${DIST}external: {db: {host: rds.example, password_file: p}}\n`,
      'external.db.ca_file: sslmode verify-full checks the server',
    ],
    [
      `${DIST}external: {db: {host: rds.example, password_file: p, sslmode: require, ca_file: ca.pem}}\n`,
      'external.db.ca_file: sslmode require does not check certificates',
    ],
    [
      `${DIST}external: {db: {host: "rds example", password_file: p, sslmode: disable}}\n`,
      'external.db.host: "rds example" is not a database host',
    ],
    [
      `${DIST}external: {db: {host: rds.example, password_file: p, sslmode: prefer}}\n`,
      'external.db.sslmode: "prefer" is not an sslmode',
    ],
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
    expect(plan.access).toMatchObject({ url: 'https://127.0.0.1:9000', adminUser: 'admin' });
    // No files given: the container issues its certificate from a CA it makes in its volume.
    expect(aio?.environment.COSMO_TLS).toBe('on');
    expect(plan.access.ca).toEqual({ inVolume: '/var/lib/cosmo/secrets/ca.crt', service: 'aio' });
    expect(plan.tls).toBeUndefined();
  });

  it('serves plain HTTP with tls: off, and refuses a value that is neither on nor off', () => {
    const plan = planFor(parseConfig('tls: off\n'), '1.0.0');
    expect(plan.access.url).toBe('http://localhost:8080');
    expect(plan.access.ca).toBeUndefined();
    expect(plan.services[0]?.environment.COSMO_TLS).toBe('off');
    expect(planFor(parseConfig('tls: false\n'), '1.0.0').access.url).toBe('http://localhost:8080');
    expect(() => parseConfig('tls: maybe\n')).toThrow(/tls: "maybe" is not on or off/);
  });

  it('passes secret files and their paths when credentials come from files', () => {
    const plan = planFor(parseConfig('name: lab\ncredentials: {source: files, dir: keys}\n'), '1.0.0');
    expect(plan.secrets).toEqual([
      { name: 'lab_db_password', file: 'keys/db_password' },
      { name: 'lab_mq_password', file: 'keys/mq_password' },
      { name: 'lab_admin_password', file: 'keys/admin_password' },
      { name: 'lab_secrets_key', file: 'keys/secrets_key' },
      { name: 'lab_api.crt', file: 'keys/api.crt', certificate: true },
      { name: 'lab_api.key', file: 'keys/api.key', certificate: true },
    ]);
    expect(plan.services[0]?.environment.COSMO_DB_PASSWORD_FILE).toBe('/run/secrets/db_password');
    expect(plan.services[0]?.environment.COSMO_HTTP_TLS_CERT_FILE).toBe('/run/secrets/api.crt');
    expect(plan.access.adminPassword).toEqual({ file: 'keys/admin_password' });
    expect(plan.access.ca).toEqual({ file: 'keys/ca.crt' });
    expect(plan.tls?.ca).toEqual({ cert: 'keys/ca.crt', key: 'keys/ca.key' });
    expect(plan.tls?.certificates).toEqual([
      {
        purpose: 'the API',
        cert: 'keys/api.crt',
        key: 'keys/api.key',
        dnsNames: ['localhost', 'aio'],
        ipAddresses: ['127.0.0.1'],
        issuer: 'ca',
      },
    ]);
  });

  it('takes the registry, prefix and tag into the image reference', () => {
    const plan = planFor(
      parseConfig('images: {registry: "reg.example:5000", prefix: acme, tag: "7"}\n'),
      '1.0.0',
    );
    expect(plan.services[0]).toMatchObject({ image: 'reg.example:5000/acme/aio:7', localImage: false });
  });
});

describe("the managers' public address (what /managers reports to Cloudify's client)", () => {
  const managerEnv = (text: string) =>
    planFor(parseConfig(text), '1.0.0').services.find((s) =>
      ['aio', 'node', 'manager'].includes(s.imageName),
    )!.environment;
  it('is the first public name given, in every mode', () => {
    for (const mode of ['aio', 'compact', 'distributed']) {
      const files = mode === 'aio' ? '' : 'credentials: {source: files}\n';
      expect(
        managerEnv(`mode: ${mode}\n${files}publicNames: [cosmo.example.com, 10.0.0.5]\n`).COSMO_PUBLIC_IP,
      ).toBe('cosmo.example.com');
    }
  });
  it("is the API's access address without one: localhost when bound to every address, never a container's", () => {
    expect(managerEnv('mode: aio\n').COSMO_PUBLIC_IP).toBe('localhost');
    expect(managerEnv(`${DIST}modes: {distributed: {bind: 192.0.2.7}}\n`).COSMO_PUBLIC_IP).toBe('192.0.2.7');
  });
  it('refuses a public name that is no host name', () => {
    expect(() => parseConfig('publicNames: ["not a host!"]\n')).toThrow(/publicNames/);
  });
});

describe('distributed plan', () => {
  const plan = planFor(
    parseConfig(`${DIST}name: lab\nmodes: {distributed: {port: 9100, managers: 2, db: 5}}\n`),
    '1.0.0',
  );
  const service = (name: string) => plan.services.find((svc) => svc.name === name)!;

  it('has one service per stateful member, named like its host, each with its own volume', () => {
    expect(plan.services.map((svc) => svc.name)).toEqual([
      'db1',
      'db2',
      'db3',
      'db4',
      'db5',
      'queue1',
      'queue2',
      'queue3',
      'manager',
      'lb',
    ]);
    expect(service('db4')).toMatchObject({
      hostname: 'db4',
      imageName: 'db',
      volumes: [{ volume: 'db4_data', target: '/var/lib/cosmo' }],
      nodeLabel: 'io.cosmo.db4',
    });
    expect(service('db4').environment).toMatchObject({
      COSMO_DB_NODE: 'db4',
      COSMO_DB_PEERS: 'db1,db2,db3,db4,db5',
    });
    expect(service('queue2').environment).toMatchObject({
      RABBITMQ_NODENAME: 'rabbit@queue2',
      RABBITMQ_CLUSTER_PEERS: 'queue1,queue2,queue3',
    });
    expect(plan.volumes).toHaveLength(8);
  });

  it('runs the managers as replicas that find the primary through Patroni and use quorum queues', () => {
    expect(service('manager')).toMatchObject({ replicas: 2, nodeLabel: 'io.cosmo.manager', volumes: [] });
    expect(service('manager').environment).toMatchObject({
      COSMO_DB_PATRONI_URLS:
        'https://db1:8008,https://db2:8008,https://db3:8008,https://db4:8008,https://db5:8008',
      COSMO_MQ_HOSTS: 'queue1,queue2,queue3',
      COSMO_MQ_QUEUE_TYPE: 'quorum',
    });
    expect(service('lb').ports).toEqual([{ host: '0.0.0.0', published: 9100, target: 8080 }]);
    expect(plan.access.url).toBe('https://localhost:9100');
    // The LB serves the API's certificate and checks the managers' against the CA, by `manager`.
    expect(service('lb').environment).toMatchObject({
      COSMO_LB_CERT_FILE: '/run/secrets/api.crt',
      COSMO_LB_KEY_FILE: '/run/secrets/api.key',
      COSMO_LB_CA_FILE: '/run/secrets/ca.crt',
    });
    expect(service('manager').environment.COSMO_HTTP_TLS_CERT_FILE).toBe('/run/secrets/manager.crt');
    expect(plan.tls?.certificates.map((c) => [c.purpose, c.dnsNames])).toEqual([
      ['the API', ['localhost', 'lb']],
      ['the managers behind the load balancer', ['manager', 'localhost', 'manager1', 'manager2']],
      [
        'the database and queue members',
        ['db1', 'db2', 'db3', 'db4', 'db5', 'queue1', 'queue2', 'queue3', 'localhost'],
      ],
      ["etcd's members and their Patroni", ['db1', 'db2', 'db3', 'db4', 'db5', 'localhost']],
    ]);
    // The managers reach PostgreSQL and RabbitMQ over TLS, checking the members' certificate; the
    // members take TLS only, with that certificate.
    expect(service('manager').environment).toMatchObject({
      COSMO_DB_SSLMODE: 'verify-full',
      COSMO_DB_CA_FILE: '/run/secrets/ca.crt',
      COSMO_MQ_TLS: 'true',
      COSMO_MQ_CA_FILE: '/run/secrets/ca.crt',
      // Patroni asks for a client certificate: the managers show theirs.
      COSMO_DB_PATRONI_CA_FILE: '/run/secrets/ca.crt',
      COSMO_DB_PATRONI_CERT_FILE: '/run/secrets/manager.crt',
      COSMO_DB_PATRONI_KEY_FILE: '/run/secrets/manager.key',
    });
    expect(service('manager').secrets.map((s) => s.target)).toContain('ca.crt');
    expect(service('db1').environment).toMatchObject({
      COSMO_DB_TLS_CERT_FILE: '/run/secrets/member.crt',
      COSMO_DB_TLS_KEY_FILE: '/run/secrets/member.key',
      COSMO_DB_TLS_CA_FILE: '/run/secrets/ca.crt',
    });
    // etcd: its own CA, whose certificate only the database members hold.
    expect(plan.tls?.etcdCa).toEqual({ cert: 'secrets/etcd-ca.crt', key: 'secrets/etcd-ca.key' });
    expect(plan.tls?.certificates.filter((c) => c.issuer === 'etcdCa').map((c) => c.dnsNames)).toEqual([
      ['db1', 'db2', 'db3', 'db4', 'db5', 'localhost'],
    ]);
    expect(service('db1').environment).toMatchObject({
      COSMO_DB_ETCD_CERT_FILE: '/run/secrets/etcd.crt',
      COSMO_DB_ETCD_CA_FILE: '/run/secrets/etcd-ca.crt',
    });
    const holders = plan.services.filter((svc) => svc.secrets.some((s) => s.target === 'etcd.key'));
    expect(holders.map((svc) => svc.name)).toEqual(['db1', 'db2', 'db3', 'db4', 'db5']);
    expect(service('queue1').environment).toMatchObject({
      RABBITMQ_TLS_CERT_FILE: '/run/secrets/member.crt',
      RABBITMQ_TLS_KEY_FILE: '/run/secrets/member.key',
      RABBITMQ_TLS_CA_FILE: '/run/secrets/ca.crt',
    });
    expect(service('queue1').secrets.map((s) => s.target)).toEqual([
      'mq_password',
      'mq_erlang_cookie',
      'member.crt',
      'member.key',
      'ca.crt',
    ]);
  });

  it('labels every service with the project and its role, and passes every secret as a file', () => {
    expect(new Set(plan.services.map((svc) => svc.labels['io.cosmo.role']))).toEqual(
      new Set(['db', 'queue', 'manager', 'lb']),
    );
    expect(plan.services.every((svc) => svc.labels['io.cosmo.project'] === 'lab')).toBe(true);
    expect(plan.secrets.map((s) => s.file)).toContain('secrets/mq_erlang_cookie');
    for (const svc of plan.services) {
      for (const [key, value] of Object.entries(svc.environment)) {
        if (/PASSWORD|COOKIE/.test(key))
          expect(key.endsWith('_FILE') && value.startsWith('/run/secrets/')).toBe(true);
      }
    }
  });
});

describe('compact plan', () => {
  const plan = planFor(
    parseConfig('mode: compact\nname: lab\ncredentials: {source: files}\nmodes: {compact: {port: 9200}}\n'),
    '1.0.0',
  );
  const node = (name: string) => plan.services.find((svc) => svc.name === name)!;

  it('has 3 nodes, each running every service against the whole cluster, and the load balancer', () => {
    expect(plan.services.map((svc) => svc.name)).toEqual(['node1', 'node2', 'node3', 'lb']);
    expect(node('node2')).toMatchObject({
      imageName: 'node',
      hostname: 'node2',
      aliases: ['manager'],
      volumes: [{ volume: 'node2_data', target: '/var/lib/cosmo' }],
      nodeLabel: 'io.cosmo.node2',
      labels: { 'io.cosmo.role': 'node', 'io.cosmo.mode': 'compact' },
    });
    expect(node('node2').environment).toMatchObject({
      COSMO_DB_NODE: 'node2',
      COSMO_DB_PEERS: 'node1,node2,node3',
      RABBITMQ_NODENAME: 'rabbit@node2',
      RABBITMQ_CLUSTER_PEERS: 'node1,node2,node3',
      COSMO_NODE_NAME: 'node2',
      COSMO_DB_PATRONI_URLS: 'https://node1:8008,https://node2:8008,https://node3:8008',
      COSMO_MQ_HOSTS: 'node1,node2,node3',
      COSMO_MQ_QUEUE_TYPE: 'quorum',
    });
    expect(node('lb').ports).toEqual([{ host: '0.0.0.0', published: 9200, target: 8080 }]);
    expect(plan.volumes).toEqual(['node1_data', 'node2_data', 'node3_data']);
  });
});
