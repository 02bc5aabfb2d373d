import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/errors.ts';
import { parseBlueprint } from './blueprint.ts';
import { evaluate, secretKeys, type Values } from './functions.ts';

const refused = (yaml: string): string => {
  try {
    parseBlueprint(yaml);
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    return (error as ApiError).message;
  }
  throw new Error('the blueprint was accepted');
};

const HEAD = 'tosca_definitions_version: cloudify_dsl_1_4\ninputs:\n  port: {default: 8080}\n';

describe('intrinsic functions at upload', () => {
  it('refuses an unknown function, naming where it is', () => {
    expect(refused(`${HEAD}node_templates:\n  a: {type: t, properties: {x: {get_inptu: port}}}\n`)).toMatch(
      /node_templates\.a\.properties\.x: unknown intrinsic function get_inptu/,
    );
  });

  it('refuses get_input of an input the blueprint does not declare', () => {
    expect(refused(`${HEAD}node_templates:\n  a: {type: t, properties: {x: {get_input: nope}}}\n`)).toMatch(
      /node_templates\.a\.properties\.x\.get_input: 'nope' is not a declared input \(declared: port\)/,
    );
  });

  it('refuses a circular get_attribute between two nodes, with the loop', () => {
    const message = refused(
      `${HEAD}node_templates:\n  a: {type: t, properties: {x: {get_attribute: [b, y]}}}\n  b: {type: t, properties: {y: {get_attribute: [a, x]}}}\n`,
    );
    expect(message).toMatch(/circular get_attribute/);
    expect(message).toContain(
      'node_templates.a.properties.x -> node_templates.b.properties.y -> node_templates.a.properties.x',
    );
  });

  it('refuses a circular get_property on one node', () => {
    expect(
      refused(`${HEAD}node_templates:\n  a: {type: t, properties: {x: {get_property: [SELF, x]}}}\n`),
    ).toMatch(/circular get_property/);
  });

  it('refuses a get_secret without a key, SELF where there is no node, and a property that does not exist', () => {
    expect(refused(`${HEAD}node_templates:\n  a: {type: t, properties: {x: {get_secret: ''}}}\n`)).toMatch(
      /x\.get_secret: get_secret takes a secret's key/,
    );
    expect(
      refused(`${HEAD}node_templates:\n  a: {type: t, properties: {x: {get_secret: {k: v}}}}\n`),
    ).toMatch(/get_secret takes a name/);
    expect(
      refused(`${HEAD}node_templates:\n  a: {type: t}\noutputs:\n  o: {value: {get_attribute: [SELF, x]}}\n`),
    ).toMatch(/outputs\.o\.value\.get_attribute: SELF cannot be used here/);
    expect(
      refused(
        `${HEAD}node_templates:\n  a: {type: t, properties: {p: {get_property: [b, q]}}}\n  b: {type: t}\n`,
      ),
    ).toMatch(/node template 'b' has no property 'q'/);
  });
});

describe('intrinsic functions evaluated', () => {
  const plan = parseBlueprint(
    `${HEAD}node_templates:\n  db: {type: t, properties: {conf: {port: {get_input: port}, host: db.local}}}\n  app: {type: t, properties: {url: {concat: ['http://', {get_property: [db, conf, host]}, ':', {get_property: [db, conf, port]}]}}}\noutputs:\n  endpoint: {value: {get_attribute: [app, endpoint]}}\n  url: {value: {get_attribute: [app, url]}}\n`,
  );
  const values = (runtime: Record<string, Record<string, unknown>>): Values => ({
    inputs: { port: 5432 },
    properties: (node) => plan.nodes[node]!.properties,
    runtime: (node) => runtime[node] ?? {},
    secret: (key) => {
      if (key === 'db') return '{"user": "app", "hosts": ["a", "b"]}';
      if (key === 'token') return 's3cret';
      throw new Error(`no secret ${key}`);
    },
  });

  it('resolves get_input, nested get_property and concat', () => {
    expect(evaluate(plan.nodes.app!.properties, { self: 'app' }, values({}))).toEqual({
      url: 'http://db.local:5432',
    });
  });

  it('reads get_attribute from runtime properties first, then from properties', () => {
    const outputs = plan.outputs as Record<string, { value: unknown }>;
    expect(evaluate(outputs.endpoint!.value, {}, values({ app: { endpoint: '10.0.0.5' } }))).toBe('10.0.0.5');
    expect(evaluate(outputs.endpoint!.value, {}, values({}))).toBeUndefined();
    expect(evaluate(outputs.url!.value, {}, values({}))).toBe('http://db.local:5432');
  });
});

describe('get_secret', () => {
  const plan = parseBlueprint(
    `${HEAD}node_templates:\n  a: {type: t, properties: {t: {get_secret: token}, u: {get_secret: [db, user]}, h: {get_secret: [db, hosts, 1]}, c: {concat: [x, {get_secret: token}]}}}\n`,
  );
  const values: Values = {
    inputs: {},
    properties: (node) => plan.nodes[node]!.properties,
    runtime: () => ({}),
    secret: (key) => ({ token: 's3cret', db: '{"user": "app", "hosts": ["a", "b"]}' })[key] ?? '',
  };

  it('is accepted at upload whether or not the secret exists yet, and names the keys it reads', () => {
    expect(secretKeys(plan.nodes.a!.properties).sort()).toEqual(['db', 'token']);
  });

  it('reads the value, or a key path into a JSON value, and works inside concat', () => {
    expect(evaluate(plan.nodes.a!.properties, { self: 'a' }, values)).toEqual({
      t: 's3cret',
      u: 'app',
      h: 'b',
      c: 'xs3cret',
    });
  });

  it('says so when a key path is asked of a value that is not JSON', () => {
    expect(() => evaluate({ get_secret: ['token', 'user'] }, {}, values)).toThrow(/not JSON/);
  });
});

describe("merge, the string functions and get_sys, as Cloudify's", () => {
  const values: Values = {
    inputs: { name: 'Web-Server', tags: { a: 1, b: 2 }, csv: 'x,y,z' },
    properties: () => ({}),
    runtime: () => ({}),
    secret: () => '',
    system: {
      'tenant.name': 'default_tenant',
      'deployment.id': 'dep1',
      'deployment.name': 'My Dep',
      'deployment.blueprint': 'bp1',
      'deployment.owner': 'admin',
    },
  };
  const run = (fn: unknown) => evaluate(fn, {}, values);

  it('evaluates each of them, arguments that are functions included', () => {
    expect(run({ merge: [{ get_input: 'tags' }, { b: 3, c: 4 }] })).toEqual({ a: 1, b: 3, c: 4 });
    expect(run({ string_find: [{ get_input: 'name' }, 'Server'] })).toBe(4);
    expect(run({ string_find: ['abc', 'z'] })).toBe(-1);
    expect(run({ string_replace: ['a-b-c-d', '-', '+'] })).toBe('a+b+c+d');
    expect(run({ string_replace: ['a-b-c-d', '-', '+', 2] })).toBe('a+b+c-d');
    expect(run({ string_split: [{ get_input: 'csv' }, ','] })).toEqual(['x', 'y', 'z']);
    expect(run({ string_split: ['x,y,z', ',', 1] })).toBe('y');
    expect(run({ string_split: ['x,y,z', ',', -1] })).toBe('z');
    expect(run({ string_lower: { get_input: 'name' } })).toBe('web-server');
    expect(run({ string_upper: 'abc' })).toBe('ABC');
    expect(run({ concat: [{ get_sys: ['deployment', 'name'] }, '@', { get_sys: ['tenant', 'name'] }] })).toBe(
      'My Dep@default_tenant',
    );
  });

  it('fails evaluation naming the function when a value has the wrong type or an index is out of range', () => {
    expect(() => run({ merge: [{ a: 1 }, { get_input: 'csv' }] })).toThrow(/merge: item 1 is not a mapping/);
    expect(() => run({ string_lower: { get_input: 'tags' } })).toThrow(
      /string_lower: its input must be a string/,
    );
    expect(() => run({ string_split: ['a,b', ',', 5] })).toThrow(/index 5 is out of range \(2 parts\)/);
    expect(() => evaluate({ get_sys: ['deployment', 'id'] }, {}, { ...values, system: undefined })).toThrow(
      /get_sys deployment id: not known here/,
    );
  });

  it('refuses at upload what cannot be right: argument counts, a non-integer count, an unknown get_sys', () => {
    const property = (fn: string) =>
      refused(`${HEAD}node_templates:\n  a: {type: t, properties: {x: ${fn}}}\n`);
    expect(property('{string_find: [a]}')).toMatch(/x\.string_find: string_find takes 2 arguments in a list/);
    expect(property('{string_replace: [a, b, c, many]}')).toMatch(/string_replace\[3\]: must be an integer/);
    expect(property('{string_split: [a]}')).toMatch(/string_split takes 2 or 3 arguments/);
    expect(property('{string_upper: [a, b]}')).toMatch(/string_upper takes one string/);
    expect(property('{merge: [{a: 1}, 5]}')).toMatch(/merge\[1\]: merge takes mappings/);
    expect(property('{get_sys: [deployment, secret]}')).toMatch(/get_sys takes \[entity, property\], one of/);
    expect(property('{string_lower: {get_input: nope}}')).toMatch(/'nope' is not a declared input/);
  });
});
